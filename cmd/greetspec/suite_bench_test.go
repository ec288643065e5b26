package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/specs"
	"github.com/onsi/ginkgo/v2/types"
)

// benchRun runs `greetspec run args...` as a child process (this test
// binary doubles as greetspec) and fails the benchmark unless it passes.
func benchRun(b *testing.B, args ...string) string {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), "GREETSPEC_CLI_TEST=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("greetspec run %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// BenchmarkSuite measures the wall time of a whole conformance run against
// the reference plugins, serially and in lanes, with the default timings,
// and reports it as a ratio of the designed-wait floor of that many lanes
// (specs.Floor; the target is at most 1.3).
func BenchmarkSuite(b *testing.B) {
	for _, procs := range []int{1, 2, 4, 6, 8} {
		b.Run("procs="+strconv.Itoa(procs), func(b *testing.B) {
			floor := specs.Floor(specs.DefaultConfig(), procs)
			start := time.Now()
			for b.Loop() {
				benchRun(b, "--procs", strconv.Itoa(procs))
			}
			b.ReportMetric(time.Since(start).Seconds()/float64(b.N)/floor.Seconds(), "wall/floor")
		})
	}
}

// BenchmarkSpecOverhead measures what a spec costs beyond its designed
// waits: a selection with none (SRV-UTF8-1, SRV-LIMIT-1, CLI-SEND-1: specs
// that only exchange and compare), run serially. From the run's JSON report
// it takes the time from the end of one spec to the end of the next (the
// spec's own work and Ginkgo's between specs), leaving out the two longest
// (the specs that launched the server and the client plugin), and reports
// its mean and median per spec. The process and plugin start-up are
// BenchmarkPluginLaunch's and the suite's.
func BenchmarkSpecOverhead(b *testing.B) {
	const filter = "SRV-UTF8-1 || SRV-LIMIT-1 || CLI-SEND-1"
	var steps []time.Duration
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "report.json")
		benchRun(b, "--procs", "1", "--label-filter", filter, "--json-report", path)
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		var rs []types.Report
		if err := json.Unmarshal(data, &rs); err != nil || len(rs) != 1 {
			b.Fatalf("reading the report: %v", err)
		}
		var ends []time.Time
		for _, sr := range rs[0].SpecReports {
			if sr.LeafNodeType == types.NodeTypeIt && sr.State == types.SpecStatePassed {
				ends = append(ends, sr.EndTime)
			}
		}
		slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
		var run []time.Duration
		for i := 1; i < len(ends); i++ {
			run = append(run, ends[i].Sub(ends[i-1]))
		}
		slices.Sort(run)
		if len(run) < 10 {
			b.Fatalf("only %d specs ran", len(ends))
		}
		steps = append(steps, run[:len(run)-2]...)
	}
	slices.Sort(steps)
	var sum time.Duration
	for _, s := range steps {
		sum += s
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(len(steps)), "µs/spec")
	b.ReportMetric(float64(steps[len(steps)/2].Microseconds()), "median-µs/spec")
}

// BenchmarkPluginLaunch measures starting the reference plugin (process,
// go-plugin handshake with AutoMTLS, gRPC connection), one call into it,
// and closing it: what each lane pays per role.
func BenchmarkPluginLaunch(b *testing.B) {
	spec := referenceSpec(b)
	for b.Loop() {
		p, err := host.Launch(spec, host.Options{StartTimeout: 20 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		rpc, err := p.Server()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rpc.Describe(context.Background(), &contract.DescribeRequest{}); err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// BenchmarkServerStartStop measures what every server spec pays on a
// launched plugin: Start on port 0, the event stream, Stop.
func BenchmarkServerStartStop(b *testing.B) {
	spec := referenceSpec(b)
	p, err := host.Launch(spec, host.Options{StartTimeout: 20 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	rpc, err := p.Server()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := rpc.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: 200}); err != nil {
			b.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		stream, err := rpc.Events(sctx, &contract.EventsRequest{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rpc.Stop(ctx, &contract.StopRequest{}); err != nil {
			b.Fatal(err)
		}
		cancel()
		for {
			if _, err := stream.Recv(); err != nil {
				break
			}
		}
	}
}

// referenceSpec is the launch reference of the built-in reference plugin in
// this test binary.
func referenceSpec(b *testing.B) host.Spec {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	spec, err := host.ParseRef("builtin:reference", exe)
	if err != nil {
		b.Fatal(err)
	}
	return spec
}
