package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greetspec/greetspec/specs"
)

// shardedSelection is the selection whose runs TestShardsPartitionTheSpecs
// and TestMergeEqualsOneRun share: requirements of both roles, one of them
// failing against greeting-capitalised and the rest passing, several with
// many specs (so that every shard holds part of them) and one with few. It
// has no designed wait, so its runs take about a second.
//
// Sharding and merging work on specs and verdicts whatever the selection
// (a shard is chosen by spec text, a merge joins reports spec by spec), so
// this selection proves what the whole catalogue would: the whole
// catalogue proved it seven times as slowly.
var shardedSelection = []string{"run", "--server", "builtin:faulty/greeting-capitalised", "--client", "builtin:reference",
	"--label-filter", "SRV-GREET-1 || SRV-GREET-3 || SRV-NAME-2 || SRV-UTF8-1 || CLI-SEND-1 || CLI-REPLY-2", "--seed", "3"}

// shardedRuns are the shared runs' JSON reports: the whole selection, its
// three shards, and its two parts by label filter.
type shardedRuns struct {
	whole  string
	shards []string
	parts  []string
	err    error
}

var (
	shardedOnce sync.Once
	sharded     shardedRuns
)

// shardedSelectionRuns runs shardedSelection whole, in three shards, and in
// two parts by label filter, once per test process, checking each exit
// status. Its directory lives as long as the test process.
func shardedSelectionRuns(t *testing.T) shardedRuns {
	t.Helper()
	shardedOnce.Do(func() {
		dir := processDir(t)
		run := func(name string, want []int, args ...string) string {
			if sharded.err != nil {
				return ""
			}
			p := filepath.Join(dir, name+".json")
			r := runCLI(t, 5*time.Minute, append(args[:len(args):len(args)], "--json-report", p)...)
			ok := false
			for _, w := range want {
				ok = ok || r.code == w
			}
			if !ok {
				sharded.err = fmt.Errorf("greetspec %s: exit status %d, want one of %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
			}
			return p
		}
		sel := shardedSelection
		sharded.whole = run("whole", []int{1}, sel...)
		for i, sh := range []string{"1/3", "2/3", "3/3"} {
			// A shard fails if it holds SRV-GREET-1's failing specs, and
			// otherwise is PARTIAL (exit 3): it verified part of each
			// requirement.
			sharded.shards = append(sharded.shards, run(fmt.Sprintf("shard%d", i+1), []int{1, 3}, append(append([]string{}, sel...), "--shard", sh)...))
		}
		// The same specs split by requirement instead: the failing one,
		// and the rest.
		base := sel[:len(sel)-4]
		sharded.parts = append(sharded.parts,
			run("part-a", []int{1}, append(append([]string{}, base...), "--label-filter", "SRV-GREET-1", "--seed", "3")...),
			run("part-b", []int{0}, append(append([]string{}, base...), "--label-filter", "SRV-GREET-3 || SRV-NAME-2 || SRV-UTF8-1 || CLI-SEND-1 || CLI-REPLY-2", "--seed", "3")...))
	})
	if sharded.err != nil {
		t.Fatal(sharded.err)
	}
	return sharded
}

// Shards split the selected specs: together they are all of them, and no
// spec is in two.
func TestShardsPartitionTheSpecs(t *testing.T) {
	t.Parallel()
	runs := shardedSelectionRuns(t)
	var union []string
	for i, report := range runs.shards {
		part := ran(specStates(t, report))
		if len(part) == 0 {
			t.Errorf("shard %d/3 ran no spec", i+1)
		}
		union = append(union, part...)
	}
	want := ran(specStates(t, runs.whole))
	sort.Strings(want)
	sort.Strings(union)
	if strings.Join(want, "\n") != strings.Join(union, "\n") {
		t.Errorf("the shards' specs are not the whole run's:\nwhole:\n%s\nshards:\n%s", strings.Join(want, "\n"), strings.Join(union, "\n"))
	}
	if r := runCLI(t, time.Minute, "run", "--shard", "3/2"); r.code != 2 || !strings.Contains(r.stderr, "--shard") {
		t.Errorf("--shard 3/2: exit status %d, stderr %q; want 2 and a --shard error", r.code, r.stderr)
	}
}

// Reports of runs over disjoint parts of the specs merge into the verdict of
// one run over all of them: parts by requirement, and shards.
func TestMergeEqualsOneRun(t *testing.T) {
	t.Parallel()
	runs := shardedSelectionRuns(t)
	dir := t.TempDir()
	a, err := specs.ReadVerdicts(runs.whole)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		reports []string
	}{
		{"two parts by label filter", runs.parts},
		{"three shards", runs.shards},
	} {
		merged := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".json")
		r := runCLI(t, time.Minute, append([]string{"merge", "--json-report", merged}, c.reports...)...)
		if r.code != 1 {
			t.Errorf("merge of %s: exit %d, want 1 (SRV-GREET-1 failed)\n%s%s", c.name, r.code, r.stdout, r.stderr)
		}
		b, err := specs.ReadVerdicts(merged)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(b) {
			t.Fatalf("merge of %s: %d verdicts, one run %d", c.name, len(b), len(a))
		}
		for i := range a {
			if a[i].Requirement.ID != b[i].Requirement.ID || a[i].Outcome != b[i].Outcome || len(a[i].Specs) != len(b[i].Specs) {
				t.Errorf("%s: one run %s (%d specs), %s merged: %s %s (%d specs)", a[i].Requirement.ID, a[i].Outcome, len(a[i].Specs), c.name, b[i].Requirement.ID, b[i].Outcome, len(b[i].Specs))
			}
		}
	}
	// Each shard alone claims no requirement it ran only in part.
	for n, shard := range runs.shards {
		one, err := specs.ReadVerdicts(shard)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range one {
			if v.Outcome != specs.OutcomePass || len(v.Specs) == 0 {
				continue
			}
			for _, w := range a {
				if w.Requirement.ID == v.Requirement.ID && len(w.Specs) > 1 && countRan(v) < len(w.Specs) {
					t.Errorf("shard %d/3 claims %s PASS after running %d of its %d specs", n+1, v.Requirement.ID, countRan(v), len(w.Specs))
				}
			}
		}
	}
	// One shard of a passing run alone is not the whole: PARTIAL, exit 3,
	// when run and when merged.
	refShard := filepath.Join(dir, "ref-shard1.json")
	if r := runCLI(t, 5*time.Minute, "run", "--server", "builtin:reference", "--label-filter", "SRV-UTF8-1", "--shard", "1/3", "--json-report", refShard); r.code != 3 {
		t.Errorf("one shard of three of a passing run: exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, time.Minute, "merge", refShard); r.code != 3 {
		t.Errorf("merging one shard of three: exit %d, want 3\n%s", r.code, r.stdout)
	}

	if r := runCLI(t, time.Minute, "merge", filepath.Join(dir, "missing.json")); r.code != 2 {
		t.Errorf("a missing report: exit %d, want 2", r.code)
	}
}

// countRan counts the specs of a verdict that ran.
func countRan(v specs.Verdict) int {
	n := 0
	for _, s := range v.Specs {
		if s.State != "skipped" && s.State != "pending" {
			n++
		}
	}
	return n
}
