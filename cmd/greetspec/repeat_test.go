package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --until-it-fails stops at the first failing iteration and shows its
// failure with a transcript; --repeat counts iterations; --rerun-failed runs
// only what failed before.
func TestFlakeHunting(t *testing.T) {
	t.Parallel()
	faulty := []string{"run", "--server", "builtin:faulty/greeting-capitalised", "--label-filter", "SRV-GREET-1 || SRV-GREET-3"}

	r := runCLI(t, 5*time.Minute, append(faulty, "--until-it-fails")...)
	if r.code != 1 || !strings.Contains(r.stdout, "First failing iteration: 1") || !strings.Contains(r.stdout, "wire transcript") {
		t.Errorf("--until-it-fails: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "iteration 2/") {
		t.Errorf("--until-it-fails went on after a failure:\n%s", r.stdout)
	}

	r = runCLI(t, 5*time.Minute, "run", "--server", "builtin:reference", "--label-filter", "SRV-GREET-3", "--repeat", "3")
	if r.code != 0 || !strings.Contains(r.stdout, "iteration 3/3: exit 0") || !strings.Contains(r.stdout, "0 of 3 iterations failed") {
		t.Errorf("--repeat 3: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	report := filepath.Join(t.TempDir(), "first.json")
	runCLI(t, 5*time.Minute, append(faulty, "--json-report", report)...)
	r = runCLI(t, 5*time.Minute, "run", "--server", "builtin:faulty/greeting-capitalised", "--rerun-failed", report, "-v")
	if r.code != 1 || !strings.Contains(r.stdout, "SRV-GREET-1") || strings.Contains(r.stdout, "SRV-GREET-3 (MUST)") {
		t.Errorf("--rerun-failed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, args := range [][]string{
		{"run", "--repeat", "0"},
		{"run", "--rerun-failed", filepath.Join(t.TempDir(), "missing.json")},
	} {
		if r := runCLI(t, time.Minute, args...); r.code != 2 {
			t.Errorf("greetspec %s: exit %d, want 2", strings.Join(args, " "), r.code)
		}
	}
}
