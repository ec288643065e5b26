// Package runner runs the conformance suite in parallel lanes and merges
// their reports into the one report a serial run would give.
//
// Most of a conformance run is designed waiting (a server left idle for T, a
// client left waiting for its timeout), so specs overlap well even on few
// cores. RunSpecs runs once per process, so each lane is a child process of
// the greetspec binary (its hidden `lane` subcommand) that runs the whole
// suite with the same seed and filters. Every spec that reaches a lane asks
// the parent, over a unix socket, whether this lane runs it: the first lane
// to ask claims it, the others skip it with a NotClaimedPrefix marker. Each
// lane streams the reports of the specs it ran as they finish, and writes
// its whole report at the end; the parent keeps the run order and the suite
// nodes of one lane's report, puts each claimed spec's report in its place,
// and replays the merged report through Ginkgo's default reporter, so the
// console output, the verdicts and the JSON/JUnit reports have the shape
// of a serial run's.
//
// Each lane launches its own plugins on first use. A lane that dies is
// reported: the spec it was running fails with the reason, and the run is
// not a success. Lanes run in process groups of their own, die with the
// parent, and are killed when the run ends.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/specs"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
)

// LaneCommand is the greetspec subcommand that runs one lane:
// `greetspec lane CONFIG INDEX`.
const LaneCommand = "lane"

// DefaultProcs is the default number of lanes. Lanes mostly wait, so more
// lanes than cores pay off; see BENCHMARKS.md for the measurement.
const DefaultProcs = 4

// ErrInterrupted is returned when the run was stopped by a signal; the
// report holds what had finished.
var ErrInterrupted = errors.New("interrupted")

// Options configure a parallel run.
type Options struct {
	// Procs is the number of lanes (at least 1).
	Procs int
	// Shard and Shards select a deterministic part of the specs: shard
	// Shard (1-based) of Shards. Zero Shards runs every spec.
	Shard, Shards int
	// Exe is the greetspec binary that serves the lane subcommand.
	Exe string
	// Settings is the suite configuration every lane runs with.
	Settings specs.Config
	// PluginLog passes the plugins' own log to Stderr.
	PluginLog bool
	// Suite and Reporter are Ginkgo's configurations, as a serial run would
	// use them. The seed must be fixed (non-zero).
	Suite    types.SuiteConfig
	Reporter types.ReporterConfig
	// Description is the suite's description.
	Description string
	// Out receives the merged console output; Stderr the lanes' problems.
	Out, Stderr io.Writer
	// Env is added to each lane's environment.
	Env []string
	// Pins maps plugin references to their pinned SHA-256 sums (hex), so
	// that lanes refuse a changed plugin as the parent does.
	Pins map[string]string
	// Prelaunch names the roles ("server", "client") whose plugins each
	// lane launches at its start, both at once and while Ginkgo builds its
	// tree, instead of one after the other at their first spec: the roles
	// the selection has specs of.
	Prelaunch []string
}

// lane is one child process.
type lane struct {
	index  int
	cmd    *exec.Cmd
	log    string // its captured stdout and stderr
	err    error  // how it exited
	exited chan struct{}
}

// parent serves the lanes' claims.
type parent struct {
	mu      sync.Mutex
	owner   map[int]int              // ordinal -> lane that claimed it
	refused map[int]bool             // ordinals outside the shard
	done    map[int]types.SpecReport // ordinal -> report of the claimed spec
	shard   [2]int
	closed  bool
}

func (p *parent) serve(conn net.Conn) {
	defer conn.Close()
	dec, enc := json.NewDecoder(conn), json.NewEncoder(conn)
	for {
		var r request
		if err := dec.Decode(&r); err != nil {
			return
		}
		var resp response
		p.mu.Lock()
		switch r.Kind {
		case "claim":
			_, taken := p.owner[r.Ordinal]
			switch {
			case p.closed || taken:
			case !inShard(r.Text, p.shard[0], p.shard[1]):
				p.refused[r.Ordinal] = true
			default:
				p.owner[r.Ordinal] = r.Lane
				resp.Granted = true
			}
			resp.Taken = p.takenAfter(r.Ordinal, r.Lane)
		case "done":
			if r.Report != nil && p.owner[r.Ordinal] == r.Lane {
				p.done[r.Ordinal] = *r.Report
			}
		}
		p.mu.Unlock()
		if r.Kind == "done" {
			continue // reports are not answered: the lane goes on at once
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

// takenAfter lists the ordinals after ord that other lanes claimed or that
// are outside the shard: the asking lane skips them without asking, which
// spares a round trip per spec for a lane that is behind the others.
func (p *parent) takenAfter(ord, lane int) []int {
	var out []int
	for o, l := range p.owner {
		if o > ord && l != lane {
			out = append(out, o)
		}
	}
	for o := range p.refused {
		if o > ord {
			out = append(out, o)
		}
	}
	return out
}

// Run runs the suite in o.Procs lanes and returns the merged report and
// whether the suite succeeded. The merged report has already been printed
// to o.Out and written to the JSON/JUnit files o.Reporter names.
func Run(ctx context.Context, o Options) (types.Report, bool, error) {
	start := time.Now()
	if o.Procs < 1 {
		o.Procs = 1
	}
	if o.Suite.RandomSeed == 0 {
		o.Suite.RandomSeed = time.Now().Unix()
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	dir, err := os.MkdirTemp("", "greetspec-lanes-")
	if err != nil {
		return types.Report{}, false, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "claims.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return types.Report{}, false, fmt.Errorf("lanes: %w", err)
	}
	defer ln.Close()

	settings := o.Settings
	settings.PluginLog = nil
	cfg, err := json.Marshal(laneConfig{Settings: settings, PluginLog: o.PluginLog, Suite: o.Suite, Description: o.Description, Socket: sock, Dir: dir, Pins: o.Pins, Prelaunch: o.Prelaunch,
		Timelines: o.Reporter.WillGenerateReport() || o.Reporter.Verbosity().GTE(types.VerbosityLevelVerbose) || o.Reporter.ShowNodeEvents})
	if err != nil {
		return types.Report{}, false, err
	}
	cfgPath := filepath.Join(dir, "lane-config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return types.Report{}, false, err
	}

	p := &parent{owner: map[int]int{}, refused: map[int]bool{}, done: map[int]types.SpecReport{}, shard: [2]int{o.Shard, o.Shards}}
	var serving sync.WaitGroup
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			serving.Add(1)
			go func() { defer serving.Done(); p.serve(conn) }()
		}
	}()

	lanes := make([]*lane, o.Procs)
	defer func() {
		for _, l := range lanes {
			if l != nil && l.cmd.Process != nil {
				_ = syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
			}
		}
	}()
	for i := range lanes {
		l := &lane{index: i + 1, log: filepath.Join(dir, fmt.Sprintf("lane-%d.log", i+1)), exited: make(chan struct{})}
		logf, err := os.Create(l.log)
		if err != nil {
			return types.Report{}, false, err
		}
		l.cmd = exec.Command(o.Exe, LaneCommand, cfgPath, strconv.Itoa(l.index))
		l.cmd.Env = append(append(os.Environ(), o.Env...), "GREETSPEC_LANE="+strconv.Itoa(l.index))
		l.cmd.Stdout, l.cmd.Stderr = logf, logf
		if o.PluginLog {
			l.cmd.Stderr = o.Stderr
		}
		l.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := l.cmd.Start(); err != nil {
			logf.Close()
			return types.Report{}, false, fmt.Errorf("starting lane %d: %w", l.index, err)
		}
		logf.Close()
		lanes[i] = l
		go func() { l.err = l.cmd.Wait(); close(l.exited) }()
	}

	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	interrupted := false
wait:
	for _, l := range lanes {
		select {
		case <-l.exited:
		case <-sigCtx.Done():
			interrupted = true
			break wait
		}
	}
	if interrupted {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		// Ginkgo in each lane takes SIGTERM as an interrupt: it runs the
		// cleanup of the spec in progress and writes its report.
		for _, l := range lanes {
			_ = syscall.Kill(-l.cmd.Process.Pid, syscall.SIGTERM)
		}
		deadline := time.After(10 * time.Second)
		for _, l := range lanes {
			select {
			case <-l.exited:
			case <-deadline:
				_ = syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
				<-l.exited
			}
		}
	}
	ln.Close()
	// The lanes' last reports may still be in their connections: read
	// them to the end (every lane has exited, so each ends), within a bound.
	<-accepting
	drained := make(chan struct{})
	go func() { serving.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()

	report, err := merge(o, p, lanes, dir, interrupted)
	if err != nil {
		return types.Report{}, false, err
	}
	report.StartTime, report.EndTime, report.RunTime = start, time.Now(), time.Since(start)
	replay(o.Out, o.Reporter, report)
	if o.Reporter.JSONReport != "" {
		if err := reporters.GenerateJSONReport(report, o.Reporter.JSONReport); err != nil {
			return report, false, err
		}
	}
	if o.Reporter.JUnitReport != "" {
		if err := reporters.GenerateJUnitReport(report, o.Reporter.JUnitReport); err != nil {
			return report, false, err
		}
	}
	for _, l := range lanes {
		if l.err != nil && !interrupted {
			fmt.Fprintf(o.Stderr, "greetspec: lane %d died (%v); its last output:\n%s\n", l.index, l.err, tail(l.log, 15))
		}
	}
	if interrupted {
		return report, false, ErrInterrupted
	}
	return report, report.SuiteSucceeded, nil
}

// merge builds the serial-shaped report from the lanes' reports.
func merge(o Options, p *parent, lanes []*lane, dir string, interrupted bool) (types.Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var reports []types.Report
	var problems []string
	// The lanes' reports are decoded side by side: decoding is most of
	// the merge's time.
	decoded := make([][]types.Report, len(lanes))
	errs := make([]error, len(lanes))
	var decoding sync.WaitGroup
	for i, l := range lanes {
		decoding.Add(1)
		go func() {
			defer decoding.Done()
			data, err := os.ReadFile(laneReportPath(dir, l.index))
			if err == nil {
				err = json.Unmarshal(data, &decoded[i])
			}
			errs[i] = err
		}()
	}
	decoding.Wait()
	for i, l := range lanes {
		rs, err := decoded[i], errs[i]
		if err != nil || len(rs) != 1 {
			problems = append(problems, fmt.Sprintf("lane %d left no report (%v)", l.index, l.err))
			continue
		}
		if l.err != nil {
			problems = append(problems, fmt.Sprintf("lane %d exited: %v", l.index, l.err))
		}
		reports = append(reports, rs[0])
	}
	if len(reports) == 0 {
		return types.Report{}, fmt.Errorf("no lane produced a report; lane 1's output:\n%s", tail(lanes[0].log, 20))
	}
	skel := reports[0]
	merged := skel
	merged.SpecReports = nil
	failed := false
	for _, sr := range skel.SpecReports {
		if sr.LeafNodeType == types.NodeTypeIt && sr.State == types.SpecStateSkipped {
			if ord, ok := claimOrdinal(sr.Failure.Message); ok {
				switch d, reported := p.done[ord]; {
				case reported:
					sr = d
				case p.refused[ord]:
					// Outside this shard: kept as a skip that says so, so
					// the shard's verdict cannot claim a requirement whose
					// other specs ran elsewhere, and `greetspec merge`
					// replaces it with the shard that ran it.
					sr.Failure = types.Failure{Message: fmt.Sprintf("%s%d/%d", specs.OutOfShardPrefix, p.shard[0], p.shard[1]),
						Location: sr.LeafNodeLocation, FailureNodeType: types.NodeTypeIt, FailureNodeLocation: sr.LeafNodeLocation}
				default:
					ln, claimed := p.owner[ord]
					sr.Failure = types.Failure{Location: sr.LeafNodeLocation, FailureNodeType: types.NodeTypeIt, FailureNodeLocation: sr.LeafNodeLocation}
					if claimed {
						sr.State = types.SpecStateFailed
						sr.Failure.Message = fmt.Sprintf("the lane running this spec (lane %d) stopped before reporting it", ln)
						if interrupted {
							sr.State = types.SpecStateInterrupted
							sr.Failure.Message = "interrupted"
						}
					} else {
						sr.Failure.Message = "not run: the run stopped before reaching it"
					}
				}
			}
		}
		if sr.State.Is(types.SpecStateFailureStates) {
			failed = true
		}
		merged.SpecReports = append(merged.SpecReports, sr)
	}
	// A suite-level node that failed in another lane (a plugin that could
	// not be closed) fails the merged run too.
	for _, r := range reports[1:] {
		for _, sr := range r.SpecReports {
			if sr.LeafNodeType != types.NodeTypeIt && sr.State.Is(types.SpecStateFailureStates) {
				merged.SpecReports = append(merged.SpecReports, sr)
				failed = true
			}
		}
	}
	seen := map[string]bool{}
	merged.SpecialSuiteFailureReasons = nil
	for _, r := range reports {
		for _, reason := range r.SpecialSuiteFailureReasons {
			if !seen[reason] {
				seen[reason] = true
				merged.SpecialSuiteFailureReasons = append(merged.SpecialSuiteFailureReasons, reason)
			}
		}
	}
	if interrupted && !seen["Interrupted by User"] {
		merged.SpecialSuiteFailureReasons = append(merged.SpecialSuiteFailureReasons, "Interrupted by User")
	}
	if len(problems) > 0 && !interrupted {
		merged.SpecialSuiteFailureReasons = append(merged.SpecialSuiteFailureReasons, strings.Join(problems, "; "))
	}
	merged.SuiteSucceeded = !failed && len(problems) == 0 && !interrupted
	merged.SuiteConfig = o.Suite
	return merged, nil
}

// replay prints the merged report as Ginkgo's default reporter prints a
// serial run.
func replay(w io.Writer, conf types.ReporterConfig, r types.Report) {
	if w == nil {
		return
	}
	rep := reporters.NewDefaultReporter(conf, w)
	rep.SuiteWillBegin(r)
	for _, sr := range r.SpecReports {
		rep.WillRun(sr)
		rep.DidRun(sr)
	}
	rep.SuiteDidEnd(r)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
