package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/greetspec/greetspec/specs"
)

// Reports of runs over disjoint parts of the specs merge into the verdict of
// one run over all of them.
func TestMergeEqualsOneRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	server := []string{"run", "--server", "builtin:faulty/greeting-capitalised"}
	parts := []string{"SRV-GREET-1", "SRV-GREET-3 || SRV-NAME-2"}
	var reports []string
	for i, filter := range parts {
		p := filepath.Join(dir, "part"+string(rune('a'+i))+".json")
		runCLI(t, 5*time.Minute, append(server, "--label-filter", filter, "--json-report", p)...)
		reports = append(reports, p)
	}
	whole := filepath.Join(dir, "whole.json")
	runCLI(t, 5*time.Minute, append(server, "--label-filter", "SRV-GREET-1 || SRV-GREET-3 || SRV-NAME-2", "--json-report", whole)...)
	merged := filepath.Join(dir, "merged.json")
	r := runCLI(t, time.Minute, append([]string{"merge", "--json-report", merged}, reports...)...)
	if r.code != 1 {
		t.Errorf("merge: exit %d, want 1 (SRV-GREET-1 failed)\n%s%s", r.code, r.stdout, r.stderr)
	}
	a, err := specs.ReadVerdicts(whole)
	if err != nil {
		t.Fatal(err)
	}
	b, err := specs.ReadVerdicts(merged)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].Outcome != b[i].Outcome || len(a[i].Specs) != len(b[i].Specs) {
			t.Errorf("%s: one run %s (%d specs), merged %s (%d specs)", a[i].Requirement.ID, a[i].Outcome, len(a[i].Specs), b[i].Outcome, len(b[i].Specs))
		}
	}
	// Three shards of the whole catalogue, merged, give the unsharded
	// verdict; each shard alone claims no requirement it ran only in part.
	all := filepath.Join(dir, "all.json")
	runCLI(t, 5*time.Minute, append(server, "--json-report", all)...)
	var shards []string
	for _, sh := range []string{"1/3", "2/3", "3/3"} {
		p := filepath.Join(dir, "shard"+sh[:1]+".json")
		runCLI(t, 5*time.Minute, append(server, "--shard", sh, "--json-report", p)...)
		shards = append(shards, p)
	}
	mergedShards := filepath.Join(dir, "merged-shards.json")
	runCLI(t, time.Minute, append([]string{"merge", "--json-report", mergedShards}, shards...)...)
	a, err = specs.ReadVerdicts(all)
	if err != nil {
		t.Fatal(err)
	}
	b, err = specs.ReadVerdicts(mergedShards)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].Outcome != b[i].Outcome || len(a[i].Specs) != len(b[i].Specs) {
			t.Errorf("%s: unsharded %s (%d specs), three shards merged %s (%d specs)", a[i].Requirement.ID, a[i].Outcome, len(a[i].Specs), b[i].Outcome, len(b[i].Specs))
		}
	}
	// One shard of a passing run alone is not the whole: PARTIAL, exit 3.
	refShard := filepath.Join(dir, "ref-shard1.json")
	runCLI(t, 5*time.Minute, "run", "--server", "builtin:reference", "--label-filter", "SRV-UTF8-1", "--shard", "1/3", "--json-report", refShard)
	if r := runCLI(t, time.Minute, "merge", refShard); r.code != 3 {
		t.Errorf("merging one shard of three: exit %d, want 3\n%s", r.code, r.stdout)
	}
	one, err := specs.ReadVerdicts(shards[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range one {
		if v.Outcome == specs.OutcomePass && len(v.Specs) > 0 {
			for _, w := range a {
				if w.Requirement.ID == v.Requirement.ID && len(w.Specs) > 1 && countRan(v) < len(w.Specs) {
					t.Errorf("shard 1/3 claims %s PASS after running %d of its %d specs", v.Requirement.ID, countRan(v), len(w.Specs))
				}
			}
		}
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
