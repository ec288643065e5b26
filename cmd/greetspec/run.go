package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/core/logline"
	"github.com/greetspec/greetspec/plugins/builtin"
	execadapter "github.com/greetspec/greetspec/plugins/exec"
	"github.com/greetspec/greetspec/specs"
	"github.com/greetspec/greetspec/specs/report"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// runOptions are the flags of `greetspec run`.
type runOptions struct {
	server, client string

	attachServer, attachClient string

	serverCmd, clientCmd, serverLogPattern, clientReplyPattern, execDir string
	readyTimeout                                                        time.Duration
	clientOutcomes                                                      []string

	target, targetLog, targetLogCmd string
	allowRemote                     bool

	idleTimeout, waitTimeout, gap, startTimeout time.Duration

	labelFilter, focus, skip      string
	failFast, verbose, noRepro    bool
	jsonReport, junitReport       string
	verdictReport                 string
	htmlReport                    string
	expectFailures, writeExpected string
	flake                         flakeOptions
	seed                          int64
	pluginLog                     bool
	speed                         speedOptions
	serverSHA256, clientSHA256    string

	timeout       time.Duration
	acceptPartial bool
}

func newRunCmd() *cobra.Command {
	d := specs.DefaultConfig()
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] [-- ginkgo flags]",
		Short: "Run the conformance suite and print a verdict per requirement",
		Long: `Run the conformance suite against a server plugin, a client plugin, or both,
and print a verdict per requirement of PROTOCOL.md.

With no plugin flags both roles are tested with the bundled reference plugins.
Giving any of the role flags tests only the roles given.

Three ways to name what is tested:
  --server/--client REF   a go-plugin plugin (builtin:NAME or a command line)
  --server-cmd/--client-cmd TEMPLATE
                          an existing program, wrapped by the exec adapter:
                          --server-cmd 'python3 server.py {host} {port}'
                          --client-cmd 'python3 client.py {host} {port}'
  --target HOST:PORT      a server that is already running (address mode);
                          its T is taken to be --idle-timeout. Only the wire
                          is observed, unless its log is followed with
                          --target-log FILE or --target-log-cmd 'CMD ...'

A plugin reference is either builtin:NAME (see 'greetspec plugins') or the
command line of a go-plugin plugin executable, for example
  --server ./bin/my-server-plugin
  --server '/usr/bin/python3 plugins/python/greet_plugin.py'
No shell is involved: quotes group words, nothing else is interpreted.

Requirements and specs are selected with Ginkgo label filters: every spec
carries its requirement ID, its role (server, client), its level (must,
should, may) and its area (greeting, utf8, limits, closure, robustness):
  greetspec run --label-filter 'server && must'
  greetspec run --label-filter SRV-UTF8-3
Any other Ginkgo flag can follow '--', e.g. -- --ginkgo.randomize-all
(not --dry-run, which would pass specs without running them).

Each requirement gets one outcome: PASS (every spec ran and passed), FAIL,
PARTIAL (the specs that ran passed, but some were filtered out, not
observable or only partly observed), NOT-OBSERVABLE (nothing of it could be
observed), INTERRUPTED, or SKIPPED (role not under test, or not selected).
SIGINT, SIGTERM or --timeout stop the run: the spec in flight gets a short
grace, the plugins are cleaned up, and what did not finish is INTERRUPTED.

` + exitStatusHelp,
		Example: `  greetspec run
  greetspec run --server builtin:faulty/greeting-capitalised
  greetspec run --client ./my-client-plugin --label-filter must -v`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "server plugin under test (builtin:NAME or a command line)")
	f.StringVar(&o.client, "client", "", "client plugin under test (builtin:NAME or a command line)")
	f.StringVar(&o.attachServer, "attach-server", "", "test a server plugin started by hand with "+contract.AttachEnv+"=1 (in an IDE or under a debugger): the JSON details it printed, or @FILE")
	f.StringVar(&o.attachClient, "attach-client", "", "test a client plugin started by hand with "+contract.AttachEnv+"=1: the JSON details it printed, or @FILE")
	f.StringVar(&o.serverCmd, "server-cmd", "", "test an existing server program: command template with {host}, {port}, {addr}, {idle_timeout_ms}")
	f.StringVar(&o.serverLogPattern, "server-log-pattern", "", "regexp with groups addr and name matching the wrapped server's log line (default: the tutorial's 'connected with:' line)")
	f.DurationVar(&o.readyTimeout, "ready-timeout", 10*time.Second, "how long a wrapped server program may take to open its port")
	f.StringVar(&o.clientCmd, "client-cmd", "", "test an existing client program: command template with {host}, {port}, {addr}, {name}, {name_file}, {timeout_ms} (without {name} and {name_file} the name goes to its standard input; see plugins/exec/CONTRACT.md)")
	f.StringVar(&o.clientReplyPattern, "client-reply-pattern", "", "regexp (group reply) finding the reply in the wrapped client's output (default: all of its standard output, leading prompt and one trailing line ending removed)")
	f.StringArrayVar(&o.clientOutcomes, "client-outcome", nil, "CLASS=EXITCODE: the wrapped client's exit status EXITCODE means failure CLASS (name-too-long, refused, reset, closed-early, timeout, other); repeatable")
	f.StringVar(&o.execDir, "cmd-dir", "", "working directory of wrapped programs (default: the current directory)")
	f.StringVar(&o.target, "target", "", "test a server that is already running at host:port (greetspec starts nothing; its idle timeout T is taken to be --idle-timeout; without a followed log only the wire is observed)")
	f.StringVar(&o.targetLog, "target-log", "", "with --target: a file the running server logs to, followed from its end like tail -F (lines parsed with --server-log-pattern)")
	f.StringVar(&o.targetLogCmd, "target-log-cmd", "", "with --target: a command whose output is the running server's log, e.g. 'journalctl -f -u NAME' or 'docker logs -f NAME' (no shell; killed at the end)")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "allow a --target that is not a loopback address")
	f.DurationVar(&o.idleTimeout, "idle-timeout", d.IdleTimeout, "idle timeout T passed to the server under test (with --target: the running server's own T)")
	f.DurationVar(&o.waitTimeout, "wait-timeout", d.WaitTimeout, "bound on every wait for an outcome that should come promptly")
	f.DurationVar(&o.gap, "gap", d.Gap, "pause between pieces of a name or reply written in pieces (keep well below --idle-timeout)")
	f.DurationVar(&o.startTimeout, "start-timeout", d.StartTimeout, "bound on a plugin's start and handshake")
	f.StringVar(&o.labelFilter, "label-filter", "", "run only specs matching this Ginkgo label filter")
	f.StringVar(&o.focus, "focus", "", "run only specs whose text matches this regular expression")
	f.StringVar(&o.skip, "skip", "", "skip specs whose text matches this regular expression")
	f.BoolVar(&o.failFast, "fail-fast", false, "stop at the first failing spec")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print every spec as it runs")
	f.BoolVar(&o.noRepro, "no-repro", false, "do not print a repro command for each failed requirement")
	f.StringVar(&o.jsonReport, "json-report", "", "also write Ginkgo's JSON report to this file")
	f.StringVar(&o.junitReport, "junit-report", "", "also write a JUnit XML report to this file (with the per-requirement verdicts)")
	f.StringVar(&o.verdictReport, "verdict-report", "", "also write greetspec's JSON report (the per-requirement verdicts, a \"requirements\" list) to this file")
	f.DurationVar(&o.timeout, "timeout", time.Hour, "bound on the whole run; when it elapses the run stops and what did not finish is INTERRUPTED (exit status 4)")
	f.BoolVar(&o.acceptPartial, "accept-partial", false, "exit 0 rather than 3 when the specs that ran passed but some requirement is PARTIAL or NOT-OBSERVABLE")
	f.StringVar(&o.htmlReport, "report-html", "", "also write a self-contained HTML report (verdict table, failures with transcripts and repro commands) to this file")
	f.StringVar(&o.expectFailures, "expect-failures", "", "file listing requirement IDs known to fail (# comments allowed): the run succeeds exactly when its failures match the list; an unexpected failure or pass fails it")
	f.StringVar(&o.writeExpected, "write-expected-failures", "", "write this run's failed requirements to this file, as a starting --expect-failures list")
	f.Int64Var(&o.seed, "seed", 0, "seed for spec order (0: random)")
	f.BoolVar(&o.pluginLog, "plugin-log", false, "show the plugins' own log output")
	o.speed.register(f)
	f.StringVar(&o.serverSHA256, "server-sha256", "", "refuse to start the --server plugin unless its executable, or the script it runs (first argument), has this SHA-256 (hex)")
	f.StringVar(&o.clientSHA256, "client-sha256", "", "refuse to start the --client plugin unless its executable, or the script it runs (first argument), has this SHA-256 (hex)")
	o.flake.register(cmd)
	return cmd
}

// verdictReport receives the suite's report; it is filled by the
// ReportAfterSuite node below once RunSpecs has run the specs.
var verdictReport *Report

var _ = ReportAfterSuite("greetspec verdict", func(r Report) { verdictReport = &r })

// fakeT satisfies GinkgoTestingT outside `go test`.
type fakeT struct{ failed bool }

func (t *fakeT) Fail() { t.failed = true }

func (o *runOptions) run(cmd *cobra.Command, ginkgoArgs []string) error {
	out := cmd.OutOrStdout()
	// Signals are watched before anything starts, so that an interrupt
	// during setup ends the run in order too.
	intr := watchInterrupts()
	defer intr.stop()
	if o.flake.rerunFailed != "" {
		filter, err := failedFilter(o.flake.rerunFailed)
		if err != nil {
			return usageErr("--rerun-failed: %v", err)
		}
		if o.labelFilter != "" {
			filter = "(" + o.labelFilter + ") && (" + filter + ")"
		}
		o.labelFilter = filter
		fmt.Fprintf(out, "greetspec: running again the requirements that failed in %s: %s\n", o.flake.rerunFailed, filter)
	}
	if o.flake.repeat < 1 || o.flake.repeat > 100000 {
		return usageErr("--repeat %d: want 1..100000", o.flake.repeat)
	}
	if err := o.validate(cmd, ginkgoArgs); err != nil {
		return err
	}
	if o.flake.repeat > 1 || o.flake.untilFails {
		n := o.flake.repeat
		if o.flake.untilFails && !cmd.Flags().Changed("repeat") {
			n = 100
		}
		args := os.Args[2:] // after "greetspec run"
		if o.flake.rerunFailed != "" {
			args = append(withoutFlag(args, "rerun-failed"), "--label-filter", o.labelFilter)
		}
		intr.stop() // the repeated runs handle signals themselves
		return runRepeated(out, args, n, o.flake.untilFails)
	}
	if err := o.pinChecksums(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return usageErr("cannot find greetspec's own executable: %v", err)
	}
	var expected map[string]bool
	if o.expectFailures != "" {
		if expected, err = report.ReadExpected(o.expectFailures); err != nil {
			return usageErr("--expect-failures: %v", err)
		}
	}

	s := specs.DefaultConfig()
	s.Server, s.Client, s.Self, s.Target = o.server, o.client, self, o.target
	s.TargetLog, s.TargetLogCmd, s.TargetLogPattern = o.targetLog, o.targetLogCmd, o.serverLogPattern
	s.IdleTimeout, s.WaitTimeout, s.Gap, s.StartTimeout = o.idleTimeout, o.waitTimeout, o.gap, o.startTimeout
	if o.pluginLog {
		s.PluginLog = os.Stderr
	}
	specs.Settings = s
	if o.speed.explainWaits {
		return explainWaits(o, s)
	}

	selected, err := o.selection()
	if sig, _ := intr.signalled(); sig != nil {
		// Ginkgo's preview stops at a signal too, selecting nothing: that
		// is an interruption, not a filter that matched nothing.
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted by %s before any spec ran; nothing was tested", signalName(sig))}
	}
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed("procs") {
		// Lanes only where they pay: a small selection runs here.
		o.speed.procs = specs.LanesFor(selectedWork, o.speed.procs)
	}

	// Start each plugin once before the suite, so that a missing file or a
	// program that is not a plugin is a setup error, not 60 failed specs.
	// Both roles are checked at once; the server's error is reported first.
	// A run in this process goes on with the plugins so started; lanes
	// start their own, and these are closed.
	checked := []struct{ name, ref string }{{"server", o.server}, {"client", o.client}}
	errs := make([]error, len(checked))
	started := make([]*host.Plugin, len(checked))
	defer func() {
		for _, p := range started {
			if p != nil {
				p.Close()
			}
		}
	}()
	var checks sync.WaitGroup
	for i, role := range checked {
		if role.ref == "" {
			continue
		}
		checks.Add(1)
		go func() {
			defer checks.Done()
			started[i], errs[i] = preflight(intr.ctx, role.name, role.ref, self, s.StartTimeout)
		}()
	}
	checks.Wait()
	if sig, _ := intr.signalled(); sig != nil {
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted by %s before any spec ran; nothing was tested", signalName(sig))}
	}
	for _, err := range errs {
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}

	if o.target != "" {
		if err := preflightTarget(o.target, s.WaitTimeout); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	// From here on, a plugin that cannot be started or a target that
	// refuses has died: the specs it leaves unjudged are BLOCKED.
	specs.Settings.Preflighted = true

	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.FailFast = suiteConfig.FailFast || o.failFast
	if o.seed != 0 {
		suiteConfig.RandomSeed = o.seed
	}
	if !ginkgoFlagGiven(ginkgoArgs, "grace-period") {
		suiteConfig.GracePeriod = interruptGrace
	}
	if o.serial(suiteConfig, ginkgoArgs) {
		for i, p := range started {
			if p != nil {
				specs.Adopt(checked[i].name, p)
				started[i] = nil
			}
		}
	}
	reporterConfig.Verbose = reporterConfig.Verbose || o.verbose
	reporterConfig.NoColor = reporterConfig.NoColor || !isTerminal(os.Stdout)
	if o.jsonReport != "" {
		reporterConfig.JSONReport = o.jsonReport
	}
	if o.junitReport != "" {
		reporterConfig.JUnitReport = o.junitReport
	}

	server := orNone(o.server)
	if o.target != "" {
		server = "running at " + o.target + " (address mode)"
	}
	fmt.Fprintf(out, "greetspec: server %s, client %s, T=%v\n", server, orNone(o.client), o.idleTimeout)
	if o.targetLog != "" || o.targetLogCmd != "" {
		// Followed from here until ClosePlugins below.
		if err := specs.PrepareTargetLog(); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("following the server's log: %w", err)}
		}
	}
	gomega.RegisterFailHandler(Fail)
	t := &fakeT{}
	suitePassed := false
	if sig, _ := intr.signalled(); sig == nil {
		var err error
		suitePassed, err = o.launchSuite(t, suiteConfig, reporterConfig, ginkgoArgs)
		var ee *exitError
		// An interrupted parallel run still has a report: it is judged below.
		if err != nil && !(errors.As(err, &ee) && ee.code == exitInterrupted) {
			specs.ClosePlugins()
			return err
		}
	}
	specs.ClosePlugins()

	if verdictReport == nil {
		if sig, _ := intr.signalled(); sig != nil {
			return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted by %s before any spec ran; nothing was tested", signalName(sig))}
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("the suite produced no report")}
	}
	fmt.Fprintln(out)
	roles := []string{}
	if o.server != "" || o.target != "" {
		roles = append(roles, "server")
	}
	if o.client != "" {
		roles = append(roles, "client")
	}
	info := intr.info(*verdictReport, selected, roles)
	verdicts := specs.Judge(*verdictReport, info)
	specs.WriteCauses(out, specs.Causes(verdicts))
	specs.WriteVerdicts(out, verdicts)
	if !o.noRepro {
		writeRepro(out, verdicts, o)
	}
	code, conclusion := conclude(verdicts, info, o.acceptPartial)
	if !suitePassed && !info.Interrupted && (code == exitPass || code == exitPartial) {
		// No requirement failed, yet the suite did not succeed: a failure
		// outside the specs (a lane that died, a suite node) is no success.
		reasons := strings.Join(verdictReport.SpecialSuiteFailureReasons, "; ")
		if reasons == "" {
			reasons = "see the output above"
		}
		code, conclusion = exitFail, fmt.Sprintf("FAIL: the run itself failed (%s), though no requirement did — exit 1", reasons)
	}
	if expected != nil {
		e := report.CheckExpected(verdicts, expected)
		fmt.Fprintln(out, e.String())
		if !e.Met() {
			code = exitFail
		} else if code == exitFail {
			// Every failure was expected: judge the rest.
			rest, n := withoutExpectedFailures(verdicts, expected)
			code, conclusion = conclude(rest, info, o.acceptPartial)
			conclusion = fmt.Sprintf("%s (besides %d expected failures)", conclusion, n)
		}
	}
	if o.junitReport != "" {
		if err := addVerdictsToJUnit(o.junitReport, verdicts, conclusion, code); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "greetspec: adding the verdicts to the JUnit report: %v\n", err)
		}
	}
	if err := o.writeReports(verdicts, conclusion); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if o.verdictReport != "" {
		rr := specs.RunReport{Server: o.server, Client: o.client, Run: info, Summary: specs.Tally(verdicts),
			Conclusion: conclusion, ExitStatus: code, Causes: specs.Causes(verdicts), Requirements: verdicts}
		if o.target != "" {
			rr.Server = "target " + o.target
		}
		if err := writeRunReport(o.verdictReport, rr); err != nil {
			return usageErr("--verdict-report: %v", err)
		}
	}
	fmt.Fprintln(out, conclusion)
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// ginkgoFlagGiven reports whether a Ginkgo flag was given after "--".
func ginkgoFlagGiven(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimPrefix(strings.TrimLeft(a, "-"), "ginkgo.")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// writeReports writes the HTML report and the expected-failure list, if
// asked for.
func (o *runOptions) writeReports(verdicts []specs.Verdict, conclusion string) error {
	if o.htmlReport != "" {
		tested := map[string]string{"server": orNone(o.server), "client": orNone(o.client)}
		switch {
		case o.serverCmd != "":
			tested["server"] = "program: " + o.serverCmd
		case o.target != "":
			tested["server"] = "running at " + o.target
		}
		if o.clientCmd != "" {
			tested["client"] = "program: " + o.clientCmd
		}
		run := report.Run{
			Title:  "greetspec conformance",
			Tested: tested,
			Settings: map[string]string{
				"T (idle timeout)": o.idleTimeout.String(), "wait timeout": o.waitTimeout.String(), "gap": o.gap.String(),
			},
			Verdicts: verdicts,
			Repro:    func(v specs.Verdict) string { return reproCommand(v, o) },
			Summary:  conclusion,
		}
		if err := writeFile(o.htmlReport, func(w io.Writer) error { return report.WriteHTML(w, run) }); err != nil {
			return fmt.Errorf("--report-html: %w", err)
		}
	}
	if o.writeExpected != "" {
		if err := writeFile(o.writeExpected, func(w io.Writer) error { return report.WriteExpected(w, verdicts) }); err != nil {
			return fmt.Errorf("--write-expected-failures: %w", err)
		}
	}
	return nil
}

// writeFile writes path through fn.
func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// resolveRoles turns the plugin, program and target flags into one plugin
// reference (or target) per role, and exports the exec adapter's settings to
// the environment its built-in plugin reads.
func (o *runOptions) resolveRoles() error {
	count := func(vs ...string) int {
		n := 0
		for _, v := range vs {
			if v != "" {
				n++
			}
		}
		return n
	}
	if len(o.clientOutcomes) > 0 && o.clientCmd == "" {
		return usageErr("--client-outcome needs --client-cmd")
	}
	if count(o.server, o.serverCmd, o.target, o.attachServer) > 1 {
		return usageErr("give at most one of --server, --server-cmd, --attach-server and --target")
	}
	if count(o.client, o.clientCmd, o.attachClient) > 1 {
		return usageErr("give at most one of --client, --client-cmd and --attach-client")
	}
	if o.attachServer != "" {
		o.server = host.AttachPrefix + o.attachServer
	}
	if o.attachClient != "" {
		o.client = host.AttachPrefix + o.attachClient
	}
	if err := o.checkTargetLog(); err != nil {
		return err
	}
	if count(o.server, o.serverCmd, o.target, o.client, o.clientCmd) == 0 {
		o.server, o.client = "builtin:reference", "builtin:reference"
		return nil
	}
	if o.target != "" {
		if err := checkTarget(o.target, o.allowRemote); err != nil {
			return err
		}
	}
	env := map[string]string{
		execadapter.EnvServerCmd:          o.serverCmd,
		execadapter.EnvServerLogPattern:   o.serverLogPattern,
		execadapter.EnvReadyTimeout:       o.readyTimeout.String(),
		execadapter.EnvClientCmd:          o.clientCmd,
		execadapter.EnvClientReplyPattern: o.clientReplyPattern,
		execadapter.EnvClientOutcomes:     strings.Join(o.clientOutcomes, ","),
		execadapter.EnvDir:                o.execDir,
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return usageErr("%v", err)
		}
	}
	if o.serverCmd != "" {
		if _, err := execadapter.NewServer(execadapter.ServerConfig{Command: o.serverCmd, LogPattern: o.serverLogPattern, ReadyTimeout: o.readyTimeout, Dir: o.execDir}); err != nil {
			return usageErr("--server-cmd: %v", err)
		}
		o.server = "builtin:exec"
	}
	if o.clientCmd != "" {
		if _, err := execadapter.NewClient(execadapter.ClientConfig{Command: o.clientCmd, ReplyPattern: o.clientReplyPattern, Outcomes: o.clientOutcomes, Dir: o.execDir}); err != nil {
			return usageErr("--client-cmd: %v", err)
		}
		o.client = "builtin:exec"
	}
	return nil
}

// checkTarget accepts host:port on a loopback address, or anywhere with
// allowRemote: a conformance run sends odd traffic and must not be aimed at
// another machine by accident.
func checkTarget(target string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return usageErr("--target %q: want host:port: %v", target, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return usageErr("--target %q: port must be 1..65535", target)
	}
	if allowRemote {
		return nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return usageErr("--target %q: %v", target, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return usageErr("--target %q resolves to %v, which is not a loopback address; pass --allow-remote to test a server on another machine", target, ip)
		}
	}
	return nil
}

// checkTargetLog validates --target-log and --target-log-cmd: only with
// --target, not both, a readable file, a command that exists, a pattern
// that compiles.
func (o *runOptions) checkTargetLog() error {
	if o.targetLog == "" && o.targetLogCmd == "" {
		return nil
	}
	if o.target == "" {
		return usageErr("--target-log and --target-log-cmd need --target")
	}
	if o.targetLog != "" && o.targetLogCmd != "" {
		return usageErr("give at most one of --target-log and --target-log-cmd")
	}
	if _, err := logline.New(o.serverLogPattern); err != nil {
		return usageErr("--server-log-pattern: %v", err)
	}
	if o.targetLog != "" {
		f, err := os.Open(o.targetLog)
		if err != nil {
			return usageErr("--target-log: %v", err)
		}
		_ = f.Close()
		return nil
	}
	argv, err := host.SplitWords(o.targetLogCmd)
	if err != nil || len(argv) == 0 {
		return usageErr("--target-log-cmd %q: want a command line", o.targetLogCmd)
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return usageErr("--target-log-cmd: %v", err)
	}
	return nil
}

// preflightTarget connects once to the running server, so that a target
// that accepts no connection is a setup error before any spec runs. The
// probe connection is reset, not closed: a reset before any byte gives the
// server no name and so no log line.
func preflightTarget(target string, wait time.Duration) error {
	conn, err := net.DialTimeout("tcp", target, wait)
	if err != nil {
		return fmt.Errorf("--target %s: the server does not accept a connection: %w", target, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	return conn.Close()
}

// preflight launches the plugin once and asks it to describe its role. It
// returns the plugin, still running, when the check passed.
func preflight(parent context.Context, role, ref, self string, startTimeout time.Duration) (*host.Plugin, error) {
	if name, ok := strings.CutPrefix(ref, host.BuiltinPrefix); ok {
		if _, known := builtin.Lookup(name); !known {
			return nil, fmt.Errorf("--%s: no built-in plugin %q (see 'greetspec plugins')", role, name)
		}
	}
	spec, err := host.ParseRef(ref, self)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", role, err)
	}
	p, err := host.Launch(spec, specs.PreflightOptions())
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", role, err)
	}
	if err := check(parent, role, p, startTimeout); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// check asks a launched plugin for its role: a server is started and
// stopped once, a client describes itself.
func check(parent context.Context, role string, p *host.Plugin, startTimeout time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, startTimeout)
	defer cancel()
	if role == "server" {
		// Start and stop it once: a wrapped program that crashes or never
		// opens its port is a setup error, said once, not 27 failures.
		srv, err := p.Server()
		if err == nil {
			_, err = srv.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: uint32(time.Second.Milliseconds())})
		}
		if err != nil {
			return fmt.Errorf("--server: the server did not start: %w", p.Err("Start", err))
		}
		if _, err := srv.Stop(ctx, &contract.StopRequest{}); err != nil {
			return fmt.Errorf("--server: the server did not stop: %w", p.Err("Stop", err))
		}
		return nil
	}
	cli, err := p.Client()
	if err == nil {
		_, err = cli.Describe(ctx, &contract.DescribeRequest{})
		// Describe is optional, but a missing service means a missing role.
		if status.Code(err) == codes.Unimplemented && !strings.Contains(err.Error(), "unknown service") {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("--client: the plugin does not offer the client role: %w", p.Err("Describe", err))
	}
	return nil
}

// parseGinkgoArgs applies Ginkgo flags given after "--" to Ginkgo's own
// configuration (read afterwards by GinkgoConfiguration). Both --focus and
// --ginkgo.focus spellings are accepted.
func parseGinkgoArgs(args []string) error {
	if len(args) == 0 {
		return nil
	}
	// Ginkgo registers its flags on flag.CommandLine as ginkgo.*; a private
	// set sharing their values parses without exiting on errors.
	fs := flag.NewFlagSet("ginkgo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "ginkgo.") {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	var norm []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(strings.TrimLeft(a, "-"), "ginkgo.") {
			a = "--ginkgo." + strings.TrimLeft(a, "-")
		}
		norm = append(norm, a)
	}
	if err := fs.Parse(norm); err != nil {
		return fmt.Errorf("ginkgo flags after --: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// writeRepro prints, for each failed requirement, the command that runs
// just its specs again with the same plugins.
func writeRepro(w io.Writer, vs []specs.Verdict, o *runOptions) {
	first := true
	for _, v := range vs {
		if v.Outcome != specs.OutcomeFail {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nTo run a failed requirement again:")
			first = false
		}
		fmt.Fprintf(w, "  %s\n", reproCommand(v, o))
	}
}

// reproCommand returns the command that runs v's specs again with the same
// implementation and settings.
func reproCommand(v specs.Verdict, o *runOptions) string {
	var parts []string
	parts = append(parts, invocation()+" run")
	switch {
	case v.Requirement.Role == "server" && o.serverCmd != "":
		parts = append(parts, "--server-cmd "+shellQuote(o.serverCmd))
		if o.serverLogPattern != "" {
			parts = append(parts, "--server-log-pattern "+shellQuote(o.serverLogPattern))
		}
	case v.Requirement.Role == "server" && o.target != "":
		parts = append(parts, "--target "+shellQuote(o.target))
		if o.allowRemote {
			parts = append(parts, "--allow-remote")
		}
		if o.targetLog != "" {
			parts = append(parts, "--target-log "+shellQuote(o.targetLog))
		}
		if o.targetLogCmd != "" {
			parts = append(parts, "--target-log-cmd "+shellQuote(o.targetLogCmd))
		}
		if o.serverLogPattern != "" {
			parts = append(parts, "--server-log-pattern "+shellQuote(o.serverLogPattern))
		}
	case v.Requirement.Role == "server" && o.server != "":
		parts = append(parts, "--server "+shellQuote(o.server))
	case v.Requirement.Role == "client" && o.clientCmd != "":
		parts = append(parts, "--client-cmd "+shellQuote(o.clientCmd))
		if o.clientReplyPattern != "" {
			parts = append(parts, "--client-reply-pattern "+shellQuote(o.clientReplyPattern))
		}
		for _, oc := range o.clientOutcomes {
			parts = append(parts, "--client-outcome "+shellQuote(oc))
		}
	case v.Requirement.Role == "client" && o.client != "":
		parts = append(parts, "--client "+shellQuote(o.client))
	}
	if o.execDir != "" && ((v.Requirement.Role == "server" && o.serverCmd != "") || (v.Requirement.Role == "client" && o.clientCmd != "")) {
		parts = append(parts, "--cmd-dir "+shellQuote(o.execDir))
	}
	if o.idleTimeout != specs.DefaultConfig().IdleTimeout {
		parts = append(parts, "--idle-timeout "+o.idleTimeout.String())
	}
	if o.waitTimeout != specs.DefaultConfig().WaitTimeout {
		parts = append(parts, "--wait-timeout "+o.waitTimeout.String())
	}
	if o.gap != specs.DefaultConfig().Gap {
		parts = append(parts, "--gap "+o.gap.String())
	}
	if o.startTimeout != specs.DefaultConfig().StartTimeout {
		parts = append(parts, "--start-timeout "+o.startTimeout.String())
	}
	if v.Requirement.Role == "server" && o.serverCmd != "" && o.readyTimeout != 10*time.Second {
		parts = append(parts, "--ready-timeout "+o.readyTimeout.String())
	}
	parts = append(parts, "--label-filter "+v.Requirement.ID, "-v")
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func orNone(s string) string {
	if s == "" {
		return "(not tested)"
	}
	return s
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
