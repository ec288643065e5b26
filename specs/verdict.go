package specs

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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
	// OutcomeBlocked: no spec of the requirement failed, but some could not
	// be judged because the implementation under test was dead and could
	// not be brought back (a target that stopped accepting, a plugin that
	// could no longer be started); the cause is stated once (Causes).
	OutcomeBlocked Outcome = "BLOCKED"
)

// PartialEntry names the report entry (ginkgo AddReportEntry) with which a
// passing spec says that part of what it checks was not observable through
// the channel in use; its value is the reason. Such a spec makes its
// requirement PARTIAL rather than PASS.
const PartialEntry = "partially observed"

// TranscriptEntryPrefix starts the name of the report entry that carries a
// failed spec's wire transcript.
const TranscriptEntryPrefix = "wire transcript: "

// OutOfShardPrefix starts the skip message of a spec that a sharded run
// (--shard i/n) left to another shard; it counts as filtered out, so a
// shard never claims a whole requirement, and merging the shards' reports
// replaces it with the shard that ran it.
const OutOfShardPrefix = "in another shard than "

// NotObservablePrefix starts the skip message of a spec that cannot observe
// what it needs; such skips count as OutcomeNotObservable, not OutcomeSkipped.
const NotObservablePrefix = "not observable: "

// Spec statuses: how a spec counts towards its requirement's outcome
// (SpecOutcome.Status).
const (
	// StatusPassed: the spec ran and passed, checking all it checks.
	StatusPassed = "passed"
	// StatusPartial: the spec passed but observed only part of its check
	// (it carries a PartialEntry).
	StatusPartial = "partly observed"
	// StatusFailed: the spec ran and failed.
	StatusFailed = "failed"
	// StatusInterrupted: the spec was running when the run was interrupted.
	StatusInterrupted = "interrupted"
	// StatusNotRunInterrupted: the spec was selected but the run was
	// interrupted before it started.
	StatusNotRunInterrupted = "not run (interrupted)"
	// StatusNotObservable: the spec cannot observe what it needs.
	StatusNotObservable = "not observable"
	// StatusRoleNotTested: the spec's role is not under test.
	StatusRoleNotTested = "role not tested"
	// StatusFilteredOut: the run's filters (label filter, focus, skip) did
	// not select the spec.
	StatusFilteredOut = "filtered out"
	// StatusNotRun: the spec was selected but did not run (--fail-fast, or
	// an earlier spec of an ordered container failed).
	StatusNotRun = "not run"
	// StatusBlocked: the spec could not run because the implementation
	// under test was dead (its skip message starts with BlockedPrefix).
	StatusBlocked = "blocked"
)

// SpecOutcome is one spec's result within a verdict.
type SpecOutcome struct {
	// Text is the spec's own text (without the requirement container).
	Text string `json:"text"`
	// State is ginkgo's state: passed, failed, skipped, ...
	State string `json:"state"`
	// Status is how the spec counts for its requirement (Status*).
	Status string `json:"status"`
	// Message is the failure or skip message, or for a partly observed
	// spec what was not observed.
	Message string `json:"message,omitempty"`
	// Location is where the failure happened, file:line.
	Location string `json:"location,omitempty"`
	// PluginExit says how the plugin process went away during the spec, if
	// it did.
	PluginExit string `json:"plugin_exit,omitempty"`
	// Death says that the implementation under test died during the spec
	// (which failed), or was dead when the spec needed it (which is
	// blocked); the verdict states each cause once (Causes).
	Death *Death `json:"death,omitempty"`
	// Transcripts are the wire transcripts attached to a failed spec, each
	// headed by its title.
	Transcripts []string `json:"transcripts,omitempty"`
}

// Verdict is the result of a run for one requirement.
type Verdict struct {
	Requirement Requirement `json:"requirement"`
	Outcome     Outcome     `json:"outcome"`
	// Note says why the outcome is not a plain PASS or FAIL: what was not
	// verified, what interrupted the run, why the requirement was skipped.
	Note  string        `json:"note,omitempty"`
	Specs []SpecOutcome `json:"specs"`
}

// RunInfo is what a run knows beyond ginkgo's report: which specs its
// filters selected and whether, when and why it was interrupted.
type RunInfo struct {
	// Selected holds the SpecKey of every spec the run's filters selected;
	// nil means unknown, and skipped specs without a message then count as
	// not run.
	Selected map[string]bool `json:"-"`
	// RolesTested lists the roles under test (server, client); nil means
	// unknown, and only a spec's own skip message then tells.
	RolesTested []string `json:"roles_tested,omitempty"`
	// Interrupted is set when a signal or the suite timeout stopped the run.
	Interrupted bool `json:"interrupted"`
	// Cause names what interrupted the run, e.g. "SIGINT" or "--timeout 5s".
	Cause string `json:"cause,omitempty"`
	// At is when the run was interrupted; a spec that failed after it is
	// counted as interrupted, since the shutdown may have caused the failure.
	At time.Time `json:"at,omitzero"`
}

// SpecKey identifies a spec across a preview and a run of the same suite.
func SpecKey(sr types.SpecReport) string {
	return sr.LeafNodeLocation.String() + " " + sr.FullText()
}

// InfoFromReport derives the interruption from a ginkgo report alone (the
// selection is unknown).
func InfoFromReport(report types.Report) RunInfo {
	var info RunInfo
	for _, reason := range report.SpecialSuiteFailureReasons {
		switch {
		case strings.Contains(reason, "Interrupted"):
			info.Interrupted, info.Cause = true, "a signal"
		case strings.Contains(reason, "Timeout"):
			info.Interrupted, info.Cause = true, "the suite timeout"
			if t := report.SuiteConfig.Timeout; t > 0 {
				info.At = report.StartTime.Add(t)
			}
		}
	}
	return info
}

// Verdicts turns a ginkgo report into one verdict per requirement of the
// catalogue, in document order, knowing only what the report holds.
func Verdicts(report types.Report) []Verdict {
	return Judge(report, InfoFromReport(report))
}

// Judge turns a ginkgo report and what the run knows about its selection
// and interruption into one verdict per requirement, in document order.
func Judge(report types.Report, info RunInfo) []Verdict {
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
		so := SpecOutcome{Text: text, State: sr.State.String(), Status: statusOf(sr, info, id), Death: deathOf(sr.ReportEntries)}
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
		if so.Status == StatusPartial {
			so.Message = partialReason(sr)
		}
		v := byID[id]
		v.Specs = append(v.Specs, so)
	}
	for i := range out {
		out[i].Outcome, out[i].Note = outcomeOf(out[i].Requirement, out[i].Specs, info)
	}
	return out
}

// RunReport is greetspec's own JSON report of a run (greetspec run
// --verdict-report): the per-requirement verdicts, beside ginkgo's report of
// the specs.
type RunReport struct {
	// Server and Client describe what was tested ("" when not tested).
	Server string `json:"server"`
	Client string `json:"client"`
	// Run says whether and why the run was interrupted.
	Run RunInfo `json:"run"`
	// Summary counts requirements by outcome.
	Summary map[Outcome]int `json:"summary"`
	// Conclusion is the last line of the terminal output.
	Conclusion string `json:"conclusion"`
	// ExitStatus is greetspec's exit status for the run.
	ExitStatus int `json:"exit_status"`
	// Causes states each implementation under test that died or stopped
	// accepting during the run, once (see Causes); empty when none did.
	Causes []Cause `json:"causes,omitempty"`
	// Requirements holds one verdict per requirement, in document order.
	Requirements []Verdict `json:"requirements"`
}

// ReadVerdicts reads the report of one run and returns its verdicts: either
// greetspec's own report (greetspec run --verdict-report), which knows the
// run's selection, or ginkgo's JSON report (--json-report).
func ReadVerdicts(path string) ([]Verdict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if trimmed := strings.TrimSpace(string(data)); strings.HasPrefix(trimmed, "{") {
		var rr RunReport
		if err := json.Unmarshal(data, &rr); err != nil {
			return nil, fmt.Errorf("report %s: %w", path, err)
		}
		if len(rr.Requirements) == 0 {
			return nil, fmt.Errorf("report %s holds no requirements", path)
		}
		return rr.Requirements, nil
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

// statusOf classifies one spec's result.
func statusOf(sr types.SpecReport, info RunInfo, id string) string {
	msg := sr.Failure.Message
	switch {
	case sr.State == types.SpecStatePassed:
		if partialReason(sr) != "" {
			return StatusPartial
		}
		return StatusPassed
	case sr.State == types.SpecStateInterrupted:
		return StatusInterrupted
	case sr.State == types.SpecStateTimedout && strings.Contains(msg, "suite timeout"):
		return StatusInterrupted
	case sr.State.Is(types.SpecStateFailureStates):
		if info.Interrupted && strings.Contains(msg, abandonedNodeMessage) {
			// A spec goroutine that Ginkgo abandoned at the interruption
			// went on and registered a cleanup after its node had ended:
			// the interruption, not the implementation, caused it.
			return StatusInterrupted
		}
		if info.Interrupted && !info.At.IsZero() && !sr.EndTime.Before(info.At) {
			// It failed while the run was being stopped: the shutdown, not
			// the implementation, may be the cause.
			return StatusInterrupted
		}
		return StatusFailed
	case sr.State == types.SpecStateSkipped && strings.HasPrefix(msg, BlockedPrefix):
		return StatusBlocked
	case sr.State == types.SpecStateSkipped && strings.HasPrefix(msg, NotObservablePrefix):
		return StatusNotObservable
	case sr.State == types.SpecStateSkipped && roleNotTested(msg, id, info.RolesTested):
		return StatusRoleNotTested
	case sr.State == types.SpecStateSkipped && strings.HasPrefix(msg, OutOfShardPrefix):
		return StatusFilteredOut
	}
	// Skipped without running, or pending.
	if info.Selected != nil && !info.Selected[SpecKey(sr)] {
		return StatusFilteredOut
	}
	if info.Interrupted {
		return StatusNotRunInterrupted
	}
	return StatusNotRun
}

// abandonedNodeMessage is what Ginkgo says when a spec goroutine it gave
// up on at an interruption calls DeferCleanup after its node ended.
const abandonedNodeMessage = "must be called inside a setup or subject node"

func roleNotTested(msg, id string, tested []string) bool {
	r, ok := LookupRequirement(id)
	if !ok {
		return false
	}
	if tested != nil && !slices.Contains(tested, r.Role) {
		return true
	}
	return msg == "no "+r.Role+" under test"
}

// partialReason returns the reasons a passing spec gave for observing only
// part of its check, or "".
func partialReason(sr types.SpecReport) string {
	var reasons []string
	for _, e := range sr.ReportEntries {
		if e.Name == PartialEntry {
			reasons = append(reasons, e.StringRepresentation())
		}
	}
	return strings.Join(reasons, "; ")
}

// outcomeOf decides a requirement's outcome from its specs: PASS only when
// every spec ran and passed in full.
func outcomeOf(r Requirement, ss []SpecOutcome, info RunInfo) (Outcome, string) {
	count := map[string]int{}
	first := map[string]SpecOutcome{}
	for _, s := range ss {
		if count[s.Status] == 0 {
			first[s.Status] = s
		}
		count[s.Status]++
	}
	verified := count[StatusPassed] + count[StatusPartial]
	total := len(ss)
	switch {
	case total == 0:
		return OutcomeSkipped, "no spec"
	case count[StatusFailed] > 0:
		return OutcomeFail, ""
	case count[StatusBlocked] > 0:
		what := "the implementation under test was dead"
		if d := first[StatusBlocked].Death; d != nil {
			what = d.What
		}
		return OutcomeBlocked, fmt.Sprintf("blocked by the cause above (%s): %d of %d specs could not run", what, count[StatusBlocked], total)
	case count[StatusInterrupted] > 0:
		return OutcomeInterrupted, fmt.Sprintf("interrupted by %s while running: %s", info.Cause, first[StatusInterrupted].Text)
	case count[StatusNotRunInterrupted] > 0:
		return OutcomeInterrupted, fmt.Sprintf("interrupted by %s: %d of %d specs not run", info.Cause, count[StatusNotRunInterrupted], total)
	case count[StatusRoleNotTested] > 0:
		return OutcomeSkipped, "no " + r.Role + " under test"
	case verified == 0 && count[StatusNotObservable] > 0:
		return OutcomeNotObservable, strings.TrimPrefix(first[StatusNotObservable].Message, NotObservablePrefix)
	case verified == 0 && count[StatusFilteredOut] == total:
		return OutcomeSkipped, "not selected"
	case verified == 0:
		return OutcomeSkipped, fmt.Sprintf("%d of %d specs not run", count[StatusNotRun], total)
	case verified == total && count[StatusPartial] == 0:
		return OutcomePass, ""
	}
	var parts []string
	if n := count[StatusFilteredOut]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d specs filtered out", n, total))
	}
	if n := count[StatusNotRun]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d specs not run", n, total))
	}
	if n := count[StatusNotObservable]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d not observable (%s)", n, strings.TrimPrefix(first[StatusNotObservable].Message, NotObservablePrefix)))
	}
	if n := count[StatusPartial]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d partly observed (%s)", n, first[StatusPartial].Message))
	}
	return OutcomePartial, strings.Join(parts, "; ")
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
// its failed specs with the first line of their failure (a death of the
// implementation during the spec first), under a partial, not observable,
// interrupted or blocked one what was not verified; then a summary. The
// causes (WriteCauses) come before it.
func WriteVerdicts(w io.Writer, vs []Verdict) {
	fmt.Fprintln(w, "Per-requirement verdict:")
	for _, v := range vs {
		r := v.Requirement
		fmt.Fprintf(w, "  %-14s %-6s %-6s %-14s %s\n", r.ID, r.Level, r.Role, v.Outcome, shorten(r.Text, 90))
		switch v.Outcome {
		case OutcomePartial, OutcomeNotObservable, OutcomeInterrupted, OutcomeBlocked:
			if v.Note != "" {
				fmt.Fprintf(w, "      %s\n", Elide(v.Note, 200))
			}
		}
		shown, failed := 0, 0
		for _, s := range v.Specs {
			if s.Status != StatusFailed {
				continue
			}
			if failed++; shown == maxShownFailures {
				continue
			}
			shown++
			fmt.Fprintf(w, "      %s: %s\n", s.State, s.Text)
			// The death comes first: it explains what the spec saw.
			dmsg := ""
			if s.Death != nil {
				dmsg = firstLine(s.Death.message())
				fmt.Fprintf(w, "        %s (see the cause above)\n", dmsg)
			}
			if msg := firstLine(s.Message); msg != "" && msg != dmsg {
				fmt.Fprintf(w, "        %s\n", msg)
			}
			if s.PluginExit != "" && s.Death == nil {
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
	fmt.Fprintf(w, "Requirements: %d passed, %d failed, %d blocked, %d partial, %d not observable, %d interrupted, %d skipped\n",
		t[OutcomePass], t[OutcomeFail], t[OutcomeBlocked], t[OutcomePartial], t[OutcomeNotObservable], t[OutcomeInterrupted], t[OutcomeSkipped])
}

// maxShownFailures is how many failed specs the verdict lists per
// requirement; the rest are counted.
const maxShownFailures = 3

// firstLine returns the informative head of a failure message: its first
// line, or for a timed-out wait ("Timed out after 2s.") also the next line,
// which says what was awaited. Control characters are escaped and a long
// line loses its middle, never its end, where the observed bytes are.
func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	head := strings.TrimSpace(lines[0])
	if strings.HasPrefix(head, "Timed out after") && len(lines) > 1 {
		head += " " + strings.TrimSpace(lines[1])
	}
	return Elide(head, maxLineRunes)
}

// maxLineRunes bounds a failure's summary line.
const maxLineRunes = 240

// Elide escapes control characters in s (as \xNN, \u2028, ...) and, if it
// is then longer than n runes, replaces its middle with " … ", keeping its
// beginning and its end.
func Elide(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	rs := []rune(b.String())
	if len(rs) <= n || n < 10 {
		return string(rs)
	}
	const mark = " … "
	keep := n - len([]rune(mark))
	tail := keep / 2
	head := keep - tail
	return string(rs[:head]) + mark + string(rs[len(rs)-tail:])
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
