package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/load"
)

// greetspec bench measures the reference plugin, the reference server
// without the plugin boundary and the baseline side by side, in alternating
// rounds, within its bounds, and writes JSON.
func TestBenchMeasuresWithinBounds(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "bench.json")
	start := time.Now()
	r := runCLIRace(t, 2*time.Minute, "bench", "--concurrency", "1,4", "--duration", "300ms", "--max-exchanges", "50", "--direct", "--rounds", "3", "--json", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Six measurements of at most 300ms each, plus launching.
	if took := time.Since(start); took > time.Minute {
		t.Errorf("bench took %v", took)
	}
	rep := readBenchReport(t, out)
	if len(rep.Results) != 2 || len(rep.Baseline) != 2 || len(rep.Direct) != 2 {
		t.Fatalf("results %d, baseline %d, direct %d; want 2 each", len(rep.Results), len(rep.Baseline), len(rep.Direct))
	}
	for _, res := range append(append(rep.Results, rep.Baseline...), rep.Direct...) {
		if res.Exchanges > 50 || res.OK == 0 || len(res.Errors) != 0 || res.Rounds != 3 {
			t.Errorf("concurrency %d: %d exchanges, %d OK, errors %v in %d rounds; want 1..50 OK in 3", res.Concurrency, res.Exchanges, res.OK, res.Errors, res.Rounds)
		}
	}
	for _, row := range []string{"baseline (raw Go)", "reference, direct"} {
		if !strings.Contains(r.stdout, row) {
			t.Errorf("no %q row:\n%s", row, r.stdout)
		}
	}
}

// Failed exchanges are counted by class, not hidden: a target that refuses
// every connection.
func TestBenchClassifiesErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := filepath.Join(t.TempDir(), "bench.json")
	r := runCLIRace(t, time.Minute, "bench", "--target", addr, "--baseline=false", "--concurrency", "2", "--duration", "200ms", "--json", out)
	// Nothing was measured: no green.
	if r.code != 1 || !strings.Contains(r.stderr, "nothing was measured") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rep benchReport
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Results) != 1 {
		t.Fatalf("report: %v %s", err, b)
	}
	if res := rep.Results[0]; res.OK != 0 || res.Errors[load.Refused] == 0 {
		t.Errorf("a refusing target: %+v", res)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bench", "--concurrency", "0"},
		{"bench", "--duration", "-1s"},
		{"bench", "--target", "192.0.2.1:9"},
		{"bench", "--server", "builtin:nope"},
		{"bench", "--target", "127.0.0.1:9", "--server", "builtin:reference"},
		{"bench", "--name", strings.Repeat("x", 1025)},
		{"bench", "--rounds", "0"},
	} {
		if r := runCLIRace(t, time.Minute, args...); r.code != 2 {
			t.Errorf("greetspec %s: exit %d, want 2\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// With connections attached, every server is also measured clean in the
// same rounds, and the plugin's event stream is read with --events; the
// server CPU per greeting is measured for the processes greetspec started.
func TestBenchAttachedAndClean(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "bench.json")
	r := runCLIRace(t, 2*time.Minute, "bench", "--concurrency", "2", "--duration", "400ms", "--max-exchanges", "40", "--rounds", "2",
		"--idle", "2", "--slowloris", "2", "--idle-timeout", "200ms", "--events", "--json", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rep := readBenchReport(t, out)
	if len(rep.Results) != 1 || len(rep.Clean) != 1 || len(rep.Baseline) != 1 || len(rep.BaselineClean) != 1 {
		t.Fatalf("results %d, clean %d, baseline %d, baseline clean %d; want 1 each", len(rep.Results), len(rep.Clean), len(rep.Baseline), len(rep.BaselineClean))
	}
	if res := rep.Results[0]; res.Background != 4 || res.OK == 0 || res.Exchanges > 40 {
		t.Errorf("attached: %+v; want 4 background connections, 1..40 exchanges", res)
	}
	if res := rep.Clean[0]; res.Background != 0 || res.OK == 0 {
		t.Errorf("clean: %+v; want no background connections", res)
	}
	if !strings.Contains(r.stdout, "vs clean") || !strings.Contains(r.stdout, "builtin:reference, clean") {
		t.Errorf("no clean comparison:\n%s", r.stdout)
	}
}

// The CPU time of a process is read from /proc, with or without its
// descendants; a process that does not exist has none to give.
func TestProcessCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) { // spend some CPU
	}
	self := os.Getpid()
	if own, tree := processCPU(self, false), processCPU(self, true); own <= 0 || tree < own {
		t.Errorf("own %v, with descendants %v: want own > 0 and tree >= own", own, tree)
	}
	if got := processCPU(0, false); got != -1 {
		t.Errorf("pid 0: %v, want -1", got)
	}
}

// readBenchReport reads the --json report greetspec bench wrote to path.
func readBenchReport(t *testing.T, path string) benchReport {
	t.Helper()
	var rep benchReport
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}
