package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
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

var willRun = regexp.MustCompile(`Will run (\d+) of`)

// BenchmarkSuite measures the wall time of a whole conformance run against
// the reference plugins, serially and in lanes, with the default timings.
func BenchmarkSuite(b *testing.B) {
	for _, procs := range []int{1, 2, 4, 8} {
		b.Run("procs="+strconv.Itoa(procs), func(b *testing.B) {
			for b.Loop() {
				benchRun(b, "--procs", strconv.Itoa(procs))
			}
		})
	}
}

// BenchmarkSpecOverhead measures what a spec costs beyond its designed
// waits: a selection with none (SRV-UTF8-1, SRV-LIMIT-1, CLI-SEND-1: specs
// that only exchange and compare), run serially, reported per spec.
// The run's fixed cost (process and plugin start) is included once.
func BenchmarkSpecOverhead(b *testing.B) {
	const filter = "SRV-UTF8-1 || SRV-LIMIT-1 || CLI-SEND-1"
	var total time.Duration
	specs := 0
	for b.Loop() {
		start := time.Now()
		out := benchRun(b, "--procs", "1", "--label-filter", filter)
		total += time.Since(start)
		m := willRun.FindStringSubmatch(out)
		if m == nil {
			b.Fatalf("no spec count in the output:\n%s", out)
		}
		specs, _ = strconv.Atoi(m[1])
	}
	if specs > 0 {
		b.ReportMetric(float64(total.Microseconds())/float64(b.N)/float64(specs), "µs/spec")
	}
}
