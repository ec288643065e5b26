package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/specs"
)

// --until-it-fails stops at the first failing iteration and shows its
// failure with a transcript; --repeat counts iterations; --rerun-failed runs
// only what failed before. The runs are CONTRIBUTING.md's (shared with
// TestContributingCommands); a command the document no longer shows is run
// here.
func TestFlakeHunting(t *testing.T) {
	t.Parallel()
	first := filepath.Join(t.TempDir(), "first.json")
	run := func(args ...string) cliResult {
		if r, ok := documentedRun(t, args...); ok {
			return r
		}
		args = slices.Clone(args)
		for i, a := range args {
			if a == "first.json" {
				args[i] = first
			}
		}
		return runCLI(t, 5*time.Minute, args...)
	}

	r := run("run", "--server", "builtin:faulty/single-read", "--label-filter", "SRV-NAME-1", "--until-it-fails")
	if r.code != 1 || !strings.Contains(r.stdout, "First failing iteration: 1") || !strings.Contains(r.stdout, "wire transcript") {
		t.Errorf("--until-it-fails: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "iteration 2/") {
		t.Errorf("--until-it-fails went on after a failure:\n%s", r.stdout)
	}

	r = run("run", "--server", "builtin:reference", "--label-filter", "SRV-NAME-1", "--repeat", "3")
	if r.code != 0 || !strings.Contains(r.stdout, "iteration 3/3: exit 0") || !strings.Contains(r.stdout, "0 of 3 iterations failed") {
		t.Errorf("--repeat 3: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	whole := run("run", "--server", "builtin:faulty/single-read", "--json-report", "first.json")
	failed := requirementLines(whole.stdout)[string(specs.OutcomeFail)]
	if whole.code != 1 || len(failed) == 0 || len(requirementLines(whole.stdout)[string(specs.OutcomePass)]) == 0 {
		t.Fatalf("the first run: exit %d, want 1 with requirements passed and failed\n%s%s", whole.code, whole.stdout, whole.stderr)
	}
	// The rerun fails what failed, and runs nothing of what passed.
	r = run("run", "--server", "builtin:faulty/single-read", "--rerun-failed", "first.json")
	again := requirementLines(r.stdout)
	if r.code != 1 || strings.Join(again[string(specs.OutcomeFail)], " ") != strings.Join(failed, " ") || len(again[string(specs.OutcomePass)]) != 0 {
		t.Errorf("--rerun-failed: exit %d, FAIL %v, PASS %v; want 1, FAIL %v (what failed) and nothing passed\n%s%s",
			r.code, again[string(specs.OutcomeFail)], again[string(specs.OutcomePass)], failed, r.stdout, r.stderr)
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
