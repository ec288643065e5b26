package specs

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// Outcome is the verdict on one requirement.
type Outcome string

// Outcomes, from best to worst for a requirement.
const (
	// OutcomePass: every spec of the requirement ran and passed.
	OutcomePass Outcome = "PASS"
	// OutcomeFail: at least one spec of the requirement failed.
	OutcomeFail Outcome = "FAIL"
	// OutcomeNotObservable: the requirement needs observations the run cannot
	// make (for example server events in address mode).
	OutcomeNotObservable Outcome = "NOT-OBSERVABLE"
	// OutcomeSkipped: no spec of the requirement ran (role not under test, or
	// filtered out).
	OutcomeSkipped Outcome = "SKIPPED"
	// OutcomePartial: the specs that ran passed, but part of the requirement
	// was not verified (some specs not observable, filtered out, or only
	// partly observed; see PartialEntry).
	OutcomePartial Outcome = "PARTIAL"
	// OutcomeInterrupted: the run was interrupted (signal or --timeout)
	// before the requirement's specs all finished; nothing is blamed on the
	// implementation.
	OutcomeInterrupted Outcome = "INTERRUPTED"
)

// PartialEntry names the report entry (ginkgo AddReportEntry) with which a
// passing spec says that part of what it checks was not observable through
// the channel in use; its value is the reason. Such a spec makes its
// requirement PARTIAL rather than PASS.
const PartialEntry = "partially observed"

// TranscriptEntryPrefix starts the name of the report entry that carries a
// failed spec's wire transcript.
const TranscriptEntryPrefix = "wire transcript: "

// NotObservablePrefix starts the skip message of a spec that cannot observe
// what it needs; such skips count as OutcomeNotObservable, not OutcomeSkipped.
const NotObservablePrefix = "not observable: "

// SpecOutcome is one spec's result within a verdict.
type SpecOutcome struct {
	// Text is the spec's own text (without the requirement container).
	Text string
	// State is ginkgo's state: passed, failed, skipped, ...
	State string
	// Message is the failure or skip message, if any.
	Message string
	// Location is where the failure happened, file:line.
	Location string
	// PluginExit says how the plugin process went away during the spec, if
	// it did.
	PluginExit string
	// Transcripts are the wire transcripts attached to a failed spec, each
	// headed by its title.
	Transcripts []string `json:",omitempty"`
}

// Verdict is the result of a run for one requirement.
type Verdict struct {
	Requirement Requirement
	Outcome     Outcome
	Specs       []SpecOutcome
}

// Verdicts turns a ginkgo report into one verdict per requirement of the
// catalogue, in document order.
func Verdicts(report types.Report) []Verdict {
	byID := map[string]*Verdict{}
	var out []Verdict
	for _, r := range catalogue {
		out = append(out, Verdict{Requirement: r})
	}
	for i := range out {
		byID[out[i].Requirement.ID] = &out[i]
	}
	for _, sr := range report.SpecReports {
		id, text, ok := SpecOf(sr)
		if !ok {
			continue
		}
		so := SpecOutcome{Text: text, State: sr.State.String()}
		if sr.State.Is(types.SpecStateFailureStates) || sr.State == types.SpecStateSkipped {
			so.Message = sr.Failure.Message
			for _, e := range sr.ReportEntries {
				if e.Name == PluginExitEntry {
					so.PluginExit = e.StringRepresentation()
				}
				if strings.HasPrefix(e.Name, TranscriptEntryPrefix) {
					so.Transcripts = append(so.Transcripts, e.Name+"\n"+e.StringRepresentation())
				}
			}
			if loc := sr.Failure.Location; loc.FileName != "" {
				so.Location = fmt.Sprintf("%s:%d", shortPath(loc.FileName), loc.LineNumber)
			}
		}
		v := byID[id]
		v.Specs = append(v.Specs, so)
	}
	for i := range out {
		out[i].Outcome = outcomeOf(out[i].Specs)
	}
	return out
}

// ReadVerdicts reads the JSON report of one run (greetspec run
// --json-report) and returns its verdicts.
func ReadVerdicts(path string) ([]Verdict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	if len(reports) != 1 {
		return nil, fmt.Errorf("report %s holds %d suites, want 1", path, len(reports))
	}
	return Verdicts(reports[0]), nil
}

// SpecOf returns the requirement a spec checks and the spec's own text
// (without the requirement's container text); ok is false for anything that
// is not a requirement's spec.
func SpecOf(sr types.SpecReport) (id, text string, ok bool) {
	if sr.LeafNodeType != types.NodeTypeIt {
		return "", "", false
	}
	id, ok = RequirementOf(sr.Labels())
	if !ok || len(sr.ContainerHierarchyTexts) == 0 {
		return "", "", false
	}
	return id, strings.Join(append(sr.ContainerHierarchyTexts[1:], sr.LeafNodeText), " "), true
}

func outcomeOf(specs []SpecOutcome) Outcome {
	ran, notObservable, failed := 0, 0, 0
	for _, s := range specs {
		switch {
		case s.State == "passed":
			ran++
		case s.State == "skipped" && strings.HasPrefix(s.Message, NotObservablePrefix):
			notObservable++
		case s.State == "skipped" || s.State == "pending":
		default:
			failed++
		}
	}
	switch {
	case failed > 0:
		return OutcomeFail
	case notObservable > 0:
		return OutcomeNotObservable
	case ran > 0:
		return OutcomePass
	}
	return OutcomeSkipped
}

// Tally counts verdicts by outcome.
func Tally(vs []Verdict) map[Outcome]int {
	t := map[Outcome]int{}
	for _, v := range vs {
		t[v.Outcome]++
	}
	return t
}

// WriteVerdicts prints one line per requirement and, under each failed one,
// its failed specs with the first line of their failure; then a summary.
func WriteVerdicts(w io.Writer, vs []Verdict) {
	fmt.Fprintln(w, "Per-requirement verdict:")
	for _, v := range vs {
		r := v.Requirement
		fmt.Fprintf(w, "  %-14s %-6s %-6s %-14s %s\n", r.ID, r.Level, r.Role, v.Outcome, shorten(r.Text, 90))
		shown, failed := 0, 0
		for _, s := range v.Specs {
			if s.State == "passed" || s.State == "skipped" || s.State == "pending" {
				continue
			}
			if failed++; shown == maxShownFailures {
				continue
			}
			shown++
			fmt.Fprintf(w, "      %s: %s\n", s.State, s.Text)
			if msg := firstLine(s.Message); msg != "" {
				fmt.Fprintf(w, "        %s\n", msg)
			}
			if s.PluginExit != "" {
				fmt.Fprintf(w, "        %s\n", firstLine(s.PluginExit))
			}
			if s.Location != "" {
				fmt.Fprintf(w, "        at %s\n", s.Location)
			}
		}
		if failed > shown {
			fmt.Fprintf(w, "      ... and %d more failed specs (run with --label-filter %s -v for all)\n", failed-shown, r.ID)
		}
	}
	t := Tally(vs)
	fmt.Fprintf(w, "Requirements: %d passed, %d failed, %d not observable, %d skipped\n",
		t[OutcomePass], t[OutcomeFail], t[OutcomeNotObservable], t[OutcomeSkipped])
}

// maxShownFailures is how many failed specs the verdict lists per
// requirement; the rest are counted.
const maxShownFailures = 3

// firstLine returns the informative head of a failure message: its first
// line, or for a timed-out wait ("Timed out after 2s.") also the next line,
// which says what was awaited.
func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	head := strings.TrimSpace(lines[0])
	if strings.HasPrefix(head, "Timed out after") && len(lines) > 1 {
		head += " " + strings.TrimSpace(lines[1])
	}
	return shorten(head, 160)
}

// shortPath keeps the last directory and file name of a source path, so the
// verdict reads the same on every machine.
func shortPath(p string) string {
	dir, file := filepath.Split(p)
	return filepath.Join(filepath.Base(dir), file)
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
