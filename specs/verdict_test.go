package specs

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// spec builds the report of one spec of requirement id.
func spec(id, text string, state types.SpecState, msg string, entries ...types.ReportEntry) types.SpecReport {
	r, _ := LookupRequirement(id)
	return types.SpecReport{
		LeafNodeType:             types.NodeTypeIt,
		ContainerHierarchyTexts:  []string{id + " (" + r.Level + "): " + r.Text},
		ContainerHierarchyLabels: [][]string{{id, r.Role, strings.ToLower(r.Level), r.Area}},
		LeafNodeText:             text,
		LeafNodeLocation:         types.CodeLocation{FileName: "x.go", LineNumber: len(text)},
		State:                    state,
		Failure:                  types.Failure{Message: msg},
		EndTime:                  time.Unix(100, 0),
		ReportEntries:            entries,
	}
}

func outcomeFor(t *testing.T, vs []Verdict, id string) Verdict {
	t.Helper()
	for _, v := range vs {
		if v.Requirement.ID == id {
			return v
		}
	}
	t.Fatalf("no verdict for %s", id)
	return Verdict{}
}

// Every outcome is earned: PASS only when every spec ran and passed in
// full.
func TestJudge(t *testing.T) {
	const id = "SRV-GREET-1"
	pass := func(text string) types.SpecReport { return spec(id, text, types.SpecStatePassed, "") }
	skipped := func(text string) types.SpecReport { return spec(id, text, types.SpecStateSkipped, "") }
	partial := types.ReportEntry{Name: PartialEntry, Value: types.WrapEntryValue("the reply is not observable")}
	all := func(specs ...types.SpecReport) map[string]bool {
		m := map[string]bool{}
		for _, s := range specs {
			m[SpecKey(s)] = true
		}
		return m
	}
	a, b := pass("a"), pass("bb")
	for _, c := range []struct {
		name  string
		specs []types.SpecReport
		info  RunInfo
		want  Outcome
		note  string
	}{
		{"all passed", []types.SpecReport{a, b}, RunInfo{Selected: all(a, b), RolesTested: []string{"server"}}, OutcomePass, ""},
		{"one filtered out", []types.SpecReport{a, skipped("bb")}, RunInfo{Selected: all(a), RolesTested: []string{"server"}}, OutcomePartial, "1 of 2 specs filtered out"},
		{"all filtered out", []types.SpecReport{skipped("a"), skipped("bb")}, RunInfo{Selected: map[string]bool{}, RolesTested: []string{"server"}}, OutcomeSkipped, "not selected"},
		{"one not observable", []types.SpecReport{a, spec(id, "bb", types.SpecStateSkipped, NotObservablePrefix+"no events")}, RunInfo{}, OutcomePartial, "1 not observable (no events)"},
		{"none observable", []types.SpecReport{spec(id, "a", types.SpecStateSkipped, NotObservablePrefix+"no events")}, RunInfo{}, OutcomeNotObservable, "no events"},
		{"partly observed", []types.SpecReport{a, spec(id, "bb", types.SpecStatePassed, "", partial)}, RunInfo{}, OutcomePartial, "1 partly observed (the reply is not observable)"},
		{"failed", []types.SpecReport{a, spec(id, "bb", types.SpecStateFailed, "wrong")}, RunInfo{}, OutcomeFail, ""},
		{"role not tested", []types.SpecReport{skipped("a")}, RunInfo{RolesTested: []string{"client"}}, OutcomeSkipped, "no server under test"},
		{"interrupted in flight", []types.SpecReport{a, spec(id, "bb", types.SpecStateInterrupted, "Interrupted by User")}, RunInfo{Interrupted: true, Cause: "SIGINT"}, OutcomeInterrupted, "interrupted by SIGINT while running: bb"},
		{"suite timeout in flight", []types.SpecReport{spec(id, "a", types.SpecStateTimedout, "A suite timeout occurred")}, RunInfo{Interrupted: true, Cause: "--timeout 1s"}, OutcomeInterrupted, "interrupted by --timeout 1s while running"},
		{"not run after interrupt", []types.SpecReport{a, skipped("bb")}, RunInfo{Selected: all(a, b), Interrupted: true, Cause: "SIGTERM"}, OutcomeInterrupted, "interrupted by SIGTERM: 1 of 2 specs not run"},
		{"failed during shutdown", []types.SpecReport{spec(id, "a", types.SpecStateFailed, "plugin exited")}, RunInfo{Interrupted: true, Cause: "SIGINT", At: time.Unix(99, 0)}, OutcomeInterrupted, "while running"},
		{"failed before the interrupt", []types.SpecReport{spec(id, "a", types.SpecStateFailed, "wrong")}, RunInfo{Interrupted: true, Cause: "SIGINT", At: time.Unix(101, 0)}, OutcomeFail, ""},
		{"not run (fail-fast)", []types.SpecReport{a, skipped("bb")}, RunInfo{Selected: all(a, b)}, OutcomePartial, "1 of 2 specs not run"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := outcomeFor(t, Judge(types.Report{SpecReports: c.specs}, c.info), id)
			if v.Outcome != c.want || !strings.Contains(v.Note, c.note) {
				t.Errorf("outcome %s (%q), want %s (%q)", v.Outcome, v.Note, c.want, c.note)
			}
		})
	}
}

// A long line loses its middle, never its end; control characters are
// escaped.
func TestElide(t *testing.T) {
	long := "the server must send exactly the 22 bytes: " + strings.Repeat("x", 300) + ` 23 bytes "welcome to Asif server` + "\n" + `"`
	got := Elide(long, 120)
	if !strings.HasSuffix(got, `23 bytes "welcome to Asif server\n"`) {
		t.Errorf("the end was lost: %q", got)
	}
	if !strings.HasPrefix(got, "the server must send") || !strings.Contains(got, " … ") {
		t.Errorf("the beginning was lost or the elision is not marked: %q", got)
	}
	if n := len([]rune(got)); n != 120 {
		t.Errorf("%d runes, want 120", n)
	}
	if got := Elide("a\x00b\tc\u2028d", 100); got != `a\x00b\tc\u2028d` {
		t.Errorf("control characters not escaped: %q", got)
	}
	if got := Elide("short", 100); got != "short" {
		t.Errorf("a short line changed: %q", got)
	}
}
