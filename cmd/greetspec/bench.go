package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/core/load"
	"github.com/greetspec/greetspec/plugins/builtin"
	"github.com/greetspec/greetspec/plugins/reference"
	"github.com/spf13/cobra"
)

type benchOptions struct {
	server, serverCmd, target string
	allowRemote, baseline     bool
	events, direct            bool
	rounds                    int
	concurrency               []int
	duration, timeout, idle   time.Duration
	maxExchanges              int
	idleConns, slowloris      int
	name, jsonOut             string
	startTimeout              time.Duration
	cpuProfile                string
	serverPID                 int // the plugin's process (group), 0 for --target
}

func newBenchCmd() *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a server's greetings per second and latency under load",
		Long: `Greet a server over many connections at once and report greetings per
second and latency (p50, p90, p99, max) at each concurrency level, with
failed exchanges counted by class (refused, reset, timeout, wrong-reply,
ports-exhausted, other). Exit status 1 when some level had no successful
greeting at all (nothing was measured), 2 on a usage or setup error.

The server is a plugin (--server, default builtin:reference), a program
(--server-cmd, through the exec adapter) or a running server (--target).
With --baseline (the default) a minimal goroutine-per-connection Go server
is measured side by side with the same load generator, and each level shows
the ratio to it; --direct adds the reference server without the plugin
boundary. Both run in processes of their own and do the protocol's whole
work, their log line to a drained pipe included. Each level is split into
--rounds that alternate the servers (A B, B A, ...), so that the machine's
load weighs on all alike. The server CPU per greeting column is the CPU
time of the processes greetspec started for that server (from /proc).
--idle and --slowloris hold that many extra connections open during the
measurement (silent ones, and ones sending a byte at a time), and every
server is also measured without them ("vs clean"). The plugin's event
stream is read only with --events. --cpuprofile writes CPU profiles.

Every level is bounded by --duration and --max-exchanges. Only loopback
targets are allowed unless --allow-remote. TIME_WAIT exhaustion of local
ports shows as ports-exhausted errors, never as a hang.`,
		Example: `  greetspec bench
  greetspec bench --server-cmd '/usr/bin/python3 server.py {host} {port}' --concurrency 1,8 --duration 1s
  greetspec bench --idle 64 --slowloris 64 --json bench.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "server plugin to measure (default builtin:reference)")
	f.StringVar(&o.serverCmd, "server-cmd", "", "server program to measure, as a command template (see greetspec run --help)")
	f.StringVar(&o.target, "target", "", "measure a server already running at host:port")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "allow a --target that is not a loopback address")
	f.BoolVar(&o.baseline, "baseline", true, "also measure a minimal Go server side by side and show the ratio")
	f.BoolVar(&o.direct, "direct", false, "also measure the reference server without the plugin boundary (in a process of its own, events discarded)")
	f.IntVar(&o.rounds, "rounds", 4, "split each level's --duration into this many rounds that alternate the servers measured side by side")
	f.BoolVar(&o.events, "events", false, "read the plugin's connection events during the measurement, as greetspec run does (the cost of greetspec's observation channel)")
	f.IntSliceVar(&o.concurrency, "concurrency", []int{1, 8, 64, 256}, "concurrency levels")
	f.DurationVar(&o.duration, "duration", 2*time.Second, "measurement time per level and server")
	f.IntVar(&o.maxExchanges, "max-exchanges", 200000, "most exchanges per level and server")
	f.DurationVar(&o.timeout, "timeout", 5*time.Second, "bound on one exchange")
	f.DurationVar(&o.idle, "idle-timeout", time.Second, "idle timeout T passed to the servers greetspec starts")
	f.IntVar(&o.idleConns, "idle", 0, "silent connections held open during the measurement")
	f.IntVar(&o.slowloris, "slowloris", 0, "connections sending one byte at a time during the measurement")
	f.StringVar(&o.name, "name", "bench", "the name each client sends")
	f.StringVar(&o.jsonOut, "json", "", "write the results as JSON to this file")
	f.DurationVar(&o.startTimeout, "start-timeout", 20*time.Second, "bound on the plugin's start")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write CPU profiles to this directory: host.pprof (greetspec and the load generator), server.pprof (a built-in plugin), raw.pprof (the baseline)")
	return cmd
}

// benchReport is what --json writes.
type benchReport struct {
	Server   string        `json:"server"`
	Results  []load.Result `json:"results"`
	Baseline []load.Result `json:"baseline,omitempty"`
	// Direct is the reference server without the plugin boundary (--direct).
	Direct []load.Result `json:"direct,omitempty"`
	// Clean, DirectClean and BaselineClean are the same servers measured
	// without the --idle and --slowloris connections, in the same rounds.
	Clean         []load.Result `json:"clean,omitempty"`
	DirectClean   []load.Result `json:"direct_clean,omitempty"`
	BaselineClean []load.Result `json:"baseline_clean,omitempty"`
}

func (o *benchOptions) run(stdout, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.cpuProfile != "" {
		if err := os.MkdirAll(o.cpuProfile, 0o755); err != nil {
			return usageErr("--cpuprofile: %v", err)
		}
		f, err := os.Create(filepath.Join(o.cpuProfile, "host.pprof"))
		if err != nil {
			return usageErr("--cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return usageErr("--cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	addr, name, stop, err := o.startServer()
	if err != nil {
		return err
	}
	defer stop()
	// The servers measured side by side: the one under test, then the
	// optional comparisons, each in a process of its own.
	rep := benchReport{Server: name}
	type measured struct {
		who, addr string
		into      *[]load.Result
		clean     bool                 // without the --idle and --slowloris connections
		cpu       func() time.Duration // the server's CPU time so far, -1 if unknown
	}
	pid := o.serverPID
	servers := []measured{{name, addr, &rep.Results, false, func() time.Duration { return processCPU(pid, true) }}}
	if o.direct {
		a, dpid, stopDirect, err := startRawProcess("reference", o.idle, o.profilePath("direct.pprof"))
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("direct reference server: %w", err)}
		}
		defer stopDirect()
		servers = append(servers, measured{"reference, direct", a, &rep.Direct, false, func() time.Duration { return processCPU(dpid, false) }})
	}
	if o.baseline {
		a, rpid, stopRaw, err := startRawProcess("raw", o.idle, o.profilePath("raw.pprof"))
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("baseline server: %w", err)}
		}
		defer stopRaw()
		servers = append(servers, measured{"baseline", a, &rep.Baseline, false, func() time.Duration { return processCPU(rpid, false) }})
	}
	if o.idleConns+o.slowloris > 0 {
		// Each server also clean, in the same rounds: what the attached
		// connections cost is the ratio of the two.
		for _, sv := range servers {
			var into *[]load.Result
			switch sv.into {
			case &rep.Results:
				into = &rep.Clean
			case &rep.Direct:
				into = &rep.DirectClean
			default:
				into = &rep.BaselineClean
			}
			servers = append(servers, measured{sv.who + ", clean", sv.addr, into, true, sv.cpu})
		}
	}
	rounds := min(o.rounds, o.maxExchanges)
	if len(servers) == 1 {
		rounds = 1 // nothing to alternate with
	}
	tty := isTerminal(os.Stderr)
	ctx := context.Background()
	for _, c := range o.concurrency {
		measure := func(sv measured, round int) load.Result {
			who := sv.who
			cfg := load.Config{Addr: sv.addr, Concurrency: c, Duration: o.duration / time.Duration(rounds), MaxExchanges: o.maxExchanges / rounds,
				Name: []byte(o.name), Timeout: o.timeout, Idle: o.idleConns, Slowloris: o.slowloris, SlowInterval: o.idle / 2}
			if sv.clean {
				cfg.Idle, cfg.Slowloris = 0, 0
			}
			what := fmt.Sprintf("%s, concurrency %d", who, c)
			if rounds > 1 {
				what += fmt.Sprintf(", round %d/%d", round+1, rounds)
			}
			if tty {
				cfg.Progress = func(done int64, el time.Duration) {
					fmt.Fprintf(stderr, "\r\033[Kbench: %s: %d exchanges, %s", what, done, el.Round(100*time.Millisecond))
				}
			}
			cpu0 := sv.cpu()
			r := load.Run(ctx, cfg)
			if cpu1 := sv.cpu(); cpu0 >= 0 && cpu1 >= cpu0 {
				r.ServerCPU = cpu1 - cpu0
			}
			if tty {
				fmt.Fprint(stderr, "\r\033[K")
			} else {
				fmt.Fprintf(stderr, "bench: %s: %d exchanges in %s\n", what, r.Exchanges, r.Elapsed.Round(time.Millisecond))
			}
			return r
		}
		// Rounds alternate the servers, reversing the order every other
		// round (A B, B A, ...), so that a change in the machine's load
		// during the level weighs on all of them alike.
		got := make([][]load.Result, len(servers))
		for round := range rounds {
			for k := range servers {
				i := k
				if round%2 == 1 {
					i = len(servers) - 1 - k
				}
				got[i] = append(got[i], measure(servers[i], round))
			}
		}
		for i, sv := range servers {
			*sv.into = append(*sv.into, load.Merge(got[i]...))
		}
	}
	writeBench(stdout, rep)
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(o.jsonOut, append(b, '\n'), 0o644)
		}
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--json: %w", err)}
		}
	}
	// A level with no successful greeting measured nothing: no green.
	for _, r := range rep.Results {
		if r.OK == 0 {
			return &exitError{code: 1, err: fmt.Errorf("no greeting succeeded at concurrency %d (%d exchanges, errors %v): nothing was measured", r.Concurrency, r.Exchanges, r.Errors)}
		}
	}
	return nil
}

func (o *benchOptions) validate() error {
	n := 0
	for _, v := range []string{o.server, o.serverCmd, o.target} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return usageErr("give at most one of --server, --server-cmd and --target")
	}
	if len(o.concurrency) == 0 {
		return usageErr("--concurrency: give at least one level")
	}
	for _, c := range o.concurrency {
		if c < 1 || c > 4096 {
			return usageErr("--concurrency %d: want 1..4096", c)
		}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
		max  time.Duration
	}{{"--duration", o.duration, 10 * time.Minute}, {"--timeout", o.timeout, time.Hour}, {"--idle-timeout", o.idle, time.Duration(^uint32(0)) * time.Millisecond}, {"--start-timeout", o.startTimeout, time.Hour}} {
		if d.v <= 0 || d.v > d.max {
			return usageErr("%s %v: want a positive duration up to %v", d.flag, d.v, d.max)
		}
	}
	if o.rounds < 1 || o.rounds > 100 {
		return usageErr("--rounds %d: want 1..100", o.rounds)
	}
	if o.maxExchanges < 1 {
		return usageErr("--max-exchanges must be at least 1")
	}
	if o.idleConns < 0 || o.slowloris < 0 || o.idleConns+o.slowloris > 4096 {
		return usageErr("--idle and --slowloris: want 0..4096 connections in all")
	}
	if len(o.name) > contract.MaxNameBytes {
		return usageErr("--name is %d bytes; a name is at most %d", len(o.name), contract.MaxNameBytes)
	}
	if o.target != "" {
		return checkTarget(o.target, o.allowRemote)
	}
	return nil
}

// startServer starts what is measured and returns its address, its name and
// how to stop it.
func (o *benchOptions) startServer() (string, string, func(), error) {
	o.serverPID = 0
	if o.target != "" {
		return o.target, o.target, func() {}, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", "", nil, usageErr("cannot find greetspec's own executable: %v", err)
	}
	ref := o.server
	if ref == "" {
		ref = "builtin:reference"
	}
	if o.serverCmd != "" {
		ref = cmdPrefix + o.serverCmd
	}
	spec, err := implSpec(ref, "server", self)
	if err != nil {
		return "", "", nil, usageErr("%v", err)
	}
	if path := o.profilePath("server.pprof"); path != "" {
		spec.Env = append(spec.Env, builtin.CPUProfileEnv+"="+path)
	}
	p, err := host.Launch(spec, host.Options{StartTimeout: o.startTimeout})
	if err != nil {
		return "", "", nil, &exitError{code: 2, err: err}
	}
	srv, err := p.Server()
	if err != nil {
		p.Close()
		return "", "", nil, &exitError{code: 2, err: err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.startTimeout)
	defer cancel()
	resp, err := srv.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: uint32(o.idle.Milliseconds())})
	if err != nil {
		p.Close()
		return "", "", nil, &exitError{code: 2, err: fmt.Errorf("the server did not start: %w", p.Err("Start", err))}
	}
	// With --events, read its events as the suite does, so the observation
	// channel's cost is measured too.
	evCtx, stopEvents := context.WithCancel(context.Background())
	if !o.events {
	} else if stream, err := srv.Events(evCtx, &contract.EventsRequest{}); err == nil {
		go func() {
			for {
				if _, err := stream.Recv(); err != nil {
					return
				}
			}
		}()
	}
	stop := func() {
		stopEvents()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_, _ = srv.Stop(sctx, &contract.StopRequest{})
		p.Close()
	}
	o.serverPID = p.PID()
	return resp.GetAddress(), ref, stop, nil
}

// startRawProcess runs the baseline server in a process of its own (the
// hidden `greetspec raw-server`), as the server under test runs in one, so
// that neither shares the load generator's process.
func startRawProcess(impl string, idle time.Duration, profile string) (string, int, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(self, "raw-server", "--impl", impl, "--idle-timeout", idle.String(), "--cpuprofile", profile)
	cmd.Env = os.Environ()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", 0, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	// Its log goes to a pipe that greetspec drains line by line, as the
	// host drains a plugin's standard error: the same work on both sides.
	logs, err := cmd.StderrPipe()
	if err != nil {
		return "", 0, nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		r := bufio.NewReader(logs)
		for {
			if _, _, err := r.ReadLine(); err != nil {
				return
			}
		}
	}()
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { <-drained; _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("the baseline server did not say its address: %v", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid, stop, nil
}

// newRawServerCmd is the hidden baseline server of greetspec bench: it
// prints its address and serves until its standard input closes.
func newRawServerCmd() *cobra.Command {
	var (
		idle          time.Duration
		profile, impl string
	)
	cmd := &cobra.Command{
		Use:    "raw-server",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if profile != "" {
				f, err := os.Create(profile)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return &exitError{code: 2, err: err}
				}
				defer pprof.StopCPUProfile()
			}
			switch impl {
			case "raw":
				srv, err := load.StartRaw("127.0.0.1:0", idle, os.Stderr)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				fmt.Fprintln(cmd.OutOrStdout(), srv.Addr())
				_, _ = io.Copy(io.Discard, os.Stdin)
				return srv.Close()
			case "reference":
				// The reference server without go-plugin: the same code,
				// its events dropped, its log on standard error.
				srv := &reference.Server{}
				resp, err := srv.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: uint32(idle.Milliseconds())}, func(*contract.ConnectionEvent) {})
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				fmt.Fprintln(cmd.OutOrStdout(), resp.GetAddress())
				_, _ = io.Copy(io.Discard, os.Stdin)
				return srv.Stop(context.Background())
			}
			return usageErr("--impl %q: want raw or reference", impl)
		},
	}
	cmd.Flags().DurationVar(&idle, "idle-timeout", time.Second, "idle timeout T")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile to this file")
	cmd.Flags().StringVar(&impl, "impl", "raw", "raw (the baseline) or reference (the reference server without the plugin boundary)")
	return cmd
}

// profilePath is where --cpuprofile puts the named profile, or "".
func (o *benchOptions) profilePath(name string) string {
	if o.cpuProfile == "" {
		return ""
	}
	p, err := filepath.Abs(filepath.Join(o.cpuProfile, name))
	if err != nil {
		return ""
	}
	return p
}

func writeBench(w io.Writer, rep benchReport) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	attached := len(rep.Clean) > 0
	head := "server\tconcurrency\tgreetings/s\tvs baseline\t"
	if attached {
		head += "vs clean\t"
	}
	fmt.Fprintf(tw, "%sserver CPU/greeting\tp50\tp90\tp99\tmax\terrors\n", head)
	ratio := func(a load.Result, b []load.Result, i int) string {
		if i >= len(b) || b[i].PerSecond <= 0 {
			return "-"
		}
		return strconv.FormatFloat(a.PerSecond/b[i].PerSecond, 'f', 2, 64)
	}
	row := func(who string, r load.Result, vsBase, vsClean string) {
		var errs []string
		for c, n := range r.Errors {
			errs = append(errs, fmt.Sprintf("%s=%d", c, n))
		}
		sort.Strings(errs)
		e := "0"
		if len(errs) > 0 {
			e = strings.Join(errs, " ")
		}
		cols := fmt.Sprintf("%s\t%d\t%.0f\t%s\t", who, r.Concurrency, r.PerSecond, vsBase)
		if attached {
			cols += vsClean + "\t"
		}
		cpu := "-"
		if r.ServerCPU > 0 {
			cpu = r.ServerCPUPerGreeting.Round(100 * time.Nanosecond).String()
		}
		fmt.Fprintf(tw, "%s%s\t%v\t%v\t%v\t%v\t%s\n", cols, cpu,
			r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), e)
	}
	for i, r := range rep.Results {
		row(rep.Server, r, ratio(r, rep.Baseline, i), ratio(r, rep.Clean, i))
		if i < len(rep.Direct) {
			row("reference, direct", rep.Direct[i], ratio(rep.Direct[i], rep.Baseline, i), ratio(rep.Direct[i], rep.DirectClean, i))
		}
		if i < len(rep.Baseline) {
			row("baseline (raw Go)", rep.Baseline[i], "-", ratio(rep.Baseline[i], rep.BaselineClean, i))
		}
		if attached {
			clean := func(who string, rs, base []load.Result) {
				if i < len(rs) {
					row(who+", clean", rs[i], ratio(rs[i], base, i), "-")
				}
			}
			clean(rep.Server, rep.Clean, rep.BaselineClean)
			clean("reference, direct", rep.DirectClean, rep.BaselineClean)
			clean("baseline (raw Go)", rep.BaselineClean, nil)
		}
	}
	tw.Flush()
}
