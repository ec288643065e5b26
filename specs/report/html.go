package report

import (
	_ "embed"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/greetspec/greetspec/specs"
)

//go:embed run.html.tmpl
var runPage string

var runTmpl = template.Must(template.New("run").Funcs(template.FuncMap{
	"lower": func(o specs.Outcome) string { return strings.ToLower(string(o)) },
}).Parse(runPage))

// htmlRow is one requirement of the page.
type htmlRow struct {
	specs.Verdict
	Failed  []specs.SpecOutcome // failed specs shown, with message and transcript
	More    int                 // failed specs not shown
	NFailed int                 // all failed specs
	Notes   []specs.SpecOutcome // not observable or partly observed specs
	Blocked bool                // blocked by a cause stated at the top
	Repro   string
	Counted map[string]int // spec states -> count
}

// htmlPage is what the template renders.
type htmlPage struct {
	Run
	Rows     []htmlRow
	Tally    []tallyItem
	Tested   []kv
	Settings []kv
	// Causes: the implementation under test died (see specs.Causes),
	// stated once above the table.
	Causes []specs.Cause
}

type kv struct{ K, V string }

type tallyItem struct {
	Outcome specs.Outcome
	N       int
}

// WriteHTML writes one self-contained HTML page (no network, no external
// assets) for the run: what was tested and how, the per-requirement
// verdict table, and for each failure its specs, first failure line, wire
// transcripts and repro command, in expandable sections. It reads without
// JavaScript; with it, buttons filter the table by verdict.
func WriteHTML(w io.Writer, r Run) error {
	p := htmlPage{Run: r, Tested: sorted(r.Tested), Settings: sorted(r.Settings), Causes: specs.Causes(r.Verdicts)}
	t := specs.Tally(r.Verdicts)
	for _, o := range []specs.Outcome{specs.OutcomePass, specs.OutcomeFail, specs.OutcomeBlocked, specs.OutcomePartial, specs.OutcomeNotObservable, specs.OutcomeInterrupted, specs.OutcomeSkipped} {
		if t[o] > 0 {
			p.Tally = append(p.Tally, tallyItem{o, t[o]})
		}
	}
	for _, v := range r.Verdicts {
		row := htmlRow{Verdict: v, Counted: map[string]int{}, Blocked: v.Outcome == specs.OutcomeBlocked}
		for _, s := range v.Specs {
			row.Counted[s.State]++
			// Only real failures are listed as failed: a spec interrupted by
			// a signal or --timeout blames nothing on the implementation.
			status := s.Status
			if status == "" { // verdicts from before statuses were recorded
				switch {
				case s.State == "passed" || s.State == "pending":
				case s.State == "skipped" && strings.HasPrefix(s.Message, specs.NotObservablePrefix):
					status = specs.StatusNotObservable
				case s.State == "skipped":
				default:
					status = specs.StatusFailed
				}
			}
			switch status {
			case specs.StatusFailed:
				row.Failed = append(row.Failed, s)
			case specs.StatusNotObservable, specs.StatusPartial:
				row.Notes = append(row.Notes, s)
			}
		}
		row.NFailed = len(row.Failed)
		if len(row.Failed) > maxFailedShown {
			row.More = len(row.Failed) - maxFailedShown
			row.Failed = row.Failed[:maxFailedShown]
		}
		if v.Outcome == specs.OutcomeFail && r.Repro != nil {
			row.Repro = r.Repro(v)
		}
		p.Rows = append(p.Rows, row)
	}
	return runTmpl.Execute(w, p)
}

// maxFailedShown is how many failed specs a requirement's row expands to;
// the rest are counted (the repro command runs them all).
const maxFailedShown = 5

func sorted(m map[string]string) []kv {
	var out []kv
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}
