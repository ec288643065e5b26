package runner

import (
	"errors"
	"github.com/greetspec/greetspec/specs"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
)

func it(text string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state, Failure: types.Failure{Message: msg}}
}

func marker(ord int) string { return NotClaimedPrefix + strconv.Itoa(ord) }

// writeLaneReport writes a lane's final report as Lane does.
func writeLaneReport(t *testing.T, dir string, index int, specs ...types.SpecReport) {
	t.Helper()
	r := types.Report{SuiteDescription: "s", SuiteSucceeded: true, SpecReports: specs}
	r.PreRunStats.TotalSpecs, r.PreRunStats.SpecsThatWillRun = len(specs), len(specs)-1
	if err := reporters.GenerateJSONReport(r, laneReportPath(dir, index)); err != nil {
		t.Fatal(err)
	}
}

func newParent() *parent {
	return &parent{owner: map[int]int{}, refused: map[int]bool{}, done: map[int]types.SpecReport{}}
}

func TestMergePutsEachClaimedSpecInItsPlace(t *testing.T) {
	dir := t.TempDir()
	// Both lanes saw the same order: a, filtered, b, c.
	writeLaneReport(t, dir, 1, it("a", types.SpecStateSkipped, marker(0)), it("filtered", types.SpecStateSkipped, ""),
		it("b", types.SpecStateSkipped, marker(1)), it("c", types.SpecStateSkipped, marker(2)))
	writeLaneReport(t, dir, 2, it("a", types.SpecStateSkipped, marker(0)), it("filtered", types.SpecStateSkipped, ""),
		it("b", types.SpecStateSkipped, marker(1)), it("c", types.SpecStateSkipped, marker(2)))
	p := newParent()
	p.owner[0], p.owner[1], p.owner[2] = 1, 2, 1
	p.done[0] = it("a", types.SpecStatePassed, "")
	p.done[1] = it("b", types.SpecStateFailed, "b failed")
	p.done[2] = it("c", types.SpecStatePassed, "")
	lanes := []*lane{{index: 1}, {index: 2}}
	r, err := merge(Options{}, p, lanes, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range r.SpecReports {
		got = append(got, s.LeafNodeText+":"+s.State.String())
	}
	want := "a:passed filtered:skipped b:failed c:passed"
	if strings.Join(got, " ") != want {
		t.Errorf("merged %q, want %q", strings.Join(got, " "), want)
	}
	if r.SuiteSucceeded {
		t.Error("a failed spec must fail the merged suite")
	}
}

func TestMergeReportsADeadLane(t *testing.T) {
	dir := t.TempDir()
	writeLaneReport(t, dir, 1, it("a", types.SpecStateSkipped, marker(0)), it("b", types.SpecStateSkipped, marker(1)))
	// Lane 2 died: no report, and spec b, which it claimed, never came.
	p := newParent()
	p.owner[0], p.owner[1] = 1, 2
	p.done[0] = it("a", types.SpecStatePassed, "")
	lanes := []*lane{{index: 1}, {index: 2, err: errors.New("signal: killed"), log: os.DevNull}}
	r, err := merge(Options{}, p, lanes, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.SuiteSucceeded {
		t.Error("a dead lane must fail the merged suite")
	}
	b := r.SpecReports[1]
	if b.State != types.SpecStateFailed || b.Failure.Message == "" {
		t.Errorf("the dead lane's spec is %s %q, want failed with a reason", b.State, b.Failure.Message)
	}
	if len(r.SpecialSuiteFailureReasons) == 0 {
		t.Error("the dead lane is not named among the suite's failure reasons")
	}
}

func TestMergeMarksSpecsOutsideTheShard(t *testing.T) {
	dir := t.TempDir()
	writeLaneReport(t, dir, 1, it("a", types.SpecStateSkipped, marker(0)), it("b", types.SpecStateSkipped, marker(1)))
	p := newParent()
	p.owner[0] = 1
	p.done[0] = it("a", types.SpecStatePassed, "")
	p.refused[1] = true
	r, err := merge(Options{}, p, []*lane{{index: 1}}, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.SpecReports) != 2 || !r.SuiteSucceeded || r.SpecReports[0].State != types.SpecStatePassed {
		t.Fatalf("merged %d specs (succeeded %v), want a passed and b marked", len(r.SpecReports), r.SuiteSucceeded)
	}
	// b stays, as a skip that names the shard, so the verdict counts it as
	// not run here rather than forgetting it.
	if b := r.SpecReports[1]; b.State != types.SpecStateSkipped || !strings.HasPrefix(b.Failure.Message, specs.OutOfShardPrefix) {
		t.Errorf("b: %s %q, want skipped with %q", b.State, b.Failure.Message, specs.OutOfShardPrefix)
	}
}

func TestShardsCoverEverySpecOnce(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		for k := range 200 {
			text := "spec " + strconv.Itoa(k)
			in := 0
			for i := 1; i <= n; i++ {
				if inShard(text, i, n) {
					in++
				}
			}
			if in != 1 {
				t.Fatalf("%q is in %d of %d shards", text, in, n)
			}
		}
	}
}
