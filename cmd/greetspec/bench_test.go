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

// greetspec bench measures the reference plugin and the baseline side by
// side, within its bounds, and writes JSON.
func TestBenchMeasuresWithinBounds(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "bench.json")
	start := time.Now()
	r := runCLIRace(t, 2*time.Minute, "bench", "--concurrency", "1,4", "--duration", "300ms", "--max-exchanges", "50", "--json", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Four measurements of at most 300ms each, plus launching.
	if took := time.Since(start); took > time.Minute {
		t.Errorf("bench took %v", took)
	}
	var rep benchReport
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || len(rep.Baseline) != 2 {
		t.Fatalf("results %d, baseline %d; want 2 each", len(rep.Results), len(rep.Baseline))
	}
	for _, res := range append(rep.Results, rep.Baseline...) {
		if res.Exchanges > 50 || res.OK == 0 || len(res.Errors) != 0 {
			t.Errorf("concurrency %d: %d exchanges, %d OK, errors %v; want 1..50 OK", res.Concurrency, res.Exchanges, res.OK, res.Errors)
		}
	}
	if !strings.Contains(r.stdout, "baseline (raw Go)") {
		t.Errorf("no baseline row:\n%s", r.stdout)
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
	} {
		if r := runCLIRace(t, time.Minute, args...); r.code != 2 {
			t.Errorf("greetspec %s: exit %d, want 2\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}
