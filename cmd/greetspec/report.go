package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/greetspec/greetspec/specs"
	"github.com/onsi/ginkgo/v2/reporters"
)

// Exit statuses of `greetspec run`.
const (
	exitPass        = 0 // every selected requirement verified and passed
	exitFail        = 1 // some requirement failed
	exitUsage       = 2 // usage or setup error
	exitPartial     = 3 // passed, but less was verified than selected
	exitInterrupted = 4 // interrupted by a signal or --timeout
)

// A run with BLOCKED requirements exits 1, not 3: 3 says that the channel
// in use could not observe part of a requirement, a limit of the setup the
// user may accept (--accept-partial); BLOCKED says that the implementation
// under test died or stopped accepting during the run, which no setup
// explains away and which needs a look as much as a failure does. It also
// keeps the status the same whether the implementation died during a spec
// (that spec FAILs) or between specs (the next ones are BLOCKED).

// exitStatusHelp documents the exit statuses in --help.
const exitStatusHelp = `Exit status:
  0  every selected requirement was verified and passed
  1  some requirement failed (even if the run was then interrupted), or
     is BLOCKED: the implementation under test died or stopped accepting
     during the run and could not be brought back (the cause is stated
     once, above the table)
  2  usage or setup error: bad flags or filters, a filter that selects no
     spec of a role under test, --dry-run, a plugin that cannot be started
  3  the specs that ran passed, but less was verified than selected: some
     requirement is PARTIAL or NOT-OBSERVABLE (--accept-partial: 0)
  4  interrupted (SIGINT, SIGTERM or --timeout) before every selected spec
     ran; nothing is blamed on the implementation`

// conclude decides the exit status of a finished run and the line that
// says what was verified; it is printed last.
func conclude(vs []specs.Verdict, info specs.RunInfo, acceptPartial bool) (int, string) {
	t := specs.Tally(vs)
	selected := len(vs) - t[specs.OutcomeSkipped]
	notSelected := ""
	if n := t[specs.OutcomeSkipped]; n > 0 {
		notSelected = fmt.Sprintf(" (%d more not tested: role not under test or not selected)", n)
	}
	unverified := func() string {
		var parts []string
		for _, c := range []struct {
			o    specs.Outcome
			name string
		}{
			{specs.OutcomePass, "verified"}, {specs.OutcomeBlocked, "blocked"}, {specs.OutcomePartial, "partly"},
			{specs.OutcomeNotObservable, "not observable"}, {specs.OutcomeInterrupted, "interrupted"},
		} {
			if n := t[c.o]; n > 0 || c.o == specs.OutcomePass {
				parts = append(parts, fmt.Sprintf("%d %s", n, c.name))
			}
		}
		return strings.Join(parts, ", ")
	}
	switch {
	case selected == 0:
		return exitUsage, "NOTHING TESTED: no requirement was selected — exit 2"
	case t[specs.OutcomeFail] > 0:
		return exitFail, fmt.Sprintf("FAIL: %d of %d requirements failed; %s — exit 1; see the table", t[specs.OutcomeFail], selected, unverified())
	case t[specs.OutcomeBlocked] > 0:
		return exitFail, fmt.Sprintf("BLOCKED: %d of %d requirements could not be judged because the implementation under test died (see the cause at the top); %s — exit 1", t[specs.OutcomeBlocked], selected, unverified())
	case info.Interrupted:
		inFlight := ""
		for _, v := range vs {
			for _, s := range v.Specs {
				if s.Status == specs.StatusInterrupted {
					inFlight = fmt.Sprintf(" while running %s %q", v.Requirement.ID, s.Text)
				}
			}
		}
		return exitInterrupted, fmt.Sprintf("INTERRUPTED by %s%s: %s — exit 4; nothing is blamed on the implementation", info.Cause, inFlight, unverified())
	case t[specs.OutcomePartial] > 0 || t[specs.OutcomeNotObservable] > 0:
		if acceptPartial {
			return exitPass, fmt.Sprintf("PARTIAL (accepted): %s of %d requirements — exit 0 (--accept-partial); see the table", unverified(), selected)
		}
		return exitPartial, fmt.Sprintf("PARTIAL: %s — exit 3; see the table", unverified())
	}
	return exitPass, fmt.Sprintf("%d of %d requirements verified: PASS%s", t[specs.OutcomePass], selected, notSelected)
}

// withoutExpectedFailures returns the verdicts with every expected failure
// set aside (counted as not tested), and how many were set aside.
func withoutExpectedFailures(vs []specs.Verdict, expected map[string]bool) ([]specs.Verdict, int) {
	out := make([]specs.Verdict, len(vs))
	n := 0
	for i, v := range vs {
		if v.Outcome == specs.OutcomeFail && expected[v.Requirement.ID] {
			v.Outcome = specs.OutcomeSkipped
			n++
		}
		out[i] = v
	}
	return out, n
}

// writeRunReport writes greetspec's own JSON report of the run.
func writeRunReport(path string, rr specs.RunReport) error {
	data, err := json.MarshalIndent(rr, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// addVerdictsToJUnit adds the per-requirement verdicts to the JUnit report
// Ginkgo wrote: properties on the conformance suite, and a testsuite
// "greetspec requirements" with one test case per selected requirement
// (FAIL a failure, INTERRUPTED and BLOCKED an error, PARTIAL and
// NOT-OBSERVABLE skipped with the reason), so CI shows what was verified.
// The causes (an implementation that died) become properties too.
func addVerdictsToJUnit(path string, vs []specs.Verdict, conclusion string, code int) error {
	causes := specs.Causes(vs)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var suites reporters.JUnitTestSuites
	if err := xml.Unmarshal(data, &suites); err != nil {
		return fmt.Errorf("JUnit report %s: %w", path, err)
	}
	req := reporters.JUnitTestSuite{Name: "greetspec requirements", Package: "greetspec"}
	var props []reporters.JUnitProperty
	for _, v := range vs {
		r := v.Requirement
		props = append(props, reporters.JUnitProperty{Name: "greetspec.verdict." + r.ID, Value: string(v.Outcome)})
		if v.Outcome == specs.OutcomeSkipped {
			continue
		}
		tc := reporters.JUnitTestCase{
			Name:      fmt.Sprintf("%s (%s, %s): %s", r.ID, r.Level, r.Role, r.Text),
			Classname: "greetspec requirements",
			Status:    string(v.Outcome),
		}
		switch v.Outcome {
		case specs.OutcomeFail:
			msg := ""
			for _, s := range v.Specs {
				if s.Status == specs.StatusFailed {
					msg = s.Text + ": " + specs.Elide(firstOf(s.Message), 300)
					break
				}
			}
			tc.Failure = &reporters.JUnitFailure{Message: msg, Type: "failed", Description: msg}
			req.Failures++
		case specs.OutcomeInterrupted:
			tc.Error = &reporters.JUnitError{Message: v.Note, Type: "interrupted", Description: v.Note}
			req.Errors++
		case specs.OutcomeBlocked:
			// Not judged, yet no success: an error, with the cause.
			desc := v.Note
			for _, c := range causes {
				desc += "\n" + c.Summary() + "\n" + c.Evidence
			}
			tc.Error = &reporters.JUnitError{Message: v.Note, Type: "blocked", Description: desc}
			req.Errors++
		case specs.OutcomePartial, specs.OutcomeNotObservable:
			tc.Skipped = &reporters.JUnitSkipped{Message: string(v.Outcome) + " - " + v.Note}
			req.Skipped++
		}
		req.Tests++
		req.TestCases = append(req.TestCases, tc)
	}
	for i, c := range causes {
		props = append(props, reporters.JUnitProperty{Name: fmt.Sprintf("greetspec.cause.%d", i+1), Value: c.Summary() + ": " + firstOf(c.Evidence)})
	}
	props = append(props,
		reporters.JUnitProperty{Name: "greetspec.conclusion", Value: conclusion},
		reporters.JUnitProperty{Name: "greetspec.exit_status", Value: fmt.Sprint(code)})
	req.Properties.Properties = props
	for i := range suites.TestSuites {
		suites.TestSuites[i].Properties.Properties = append(suites.TestSuites[i].Properties.Properties, props...)
	}
	suites.TestSuites = append(suites.TestSuites, req)
	suites.Tests += req.Tests
	suites.Failures += req.Failures
	suites.Errors += req.Errors
	suites.Disabled += req.Skipped
	out, err := xml.MarshalIndent(suites, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(out, '\n')...), 0o644)
}

func firstOf(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// invocation is how to run greetspec again exactly as it was run: `go run
// PKG` when it was built by `go run` (its executable lives in the Go build
// cache or a go-build temporary directory), else its name when found on
// PATH, else its path.
func invocation() string {
	exe, err := os.Executable()
	if err != nil {
		return "greetspec"
	}
	if builtByGo(exe) {
		if pkg := cmdPackageDir(); pkg != "" {
			return "go run " + pkg
		}
	}
	arg0 := os.Args[0]
	if !strings.ContainsRune(arg0, os.PathSeparator) {
		if p, err := exec.LookPath(arg0); err == nil && sameFile(p, exe) {
			return arg0
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") {
			return shellQuote("./" + rel)
		}
	}
	return shellQuote(exe)
}

// builtByGo reports whether exe was built by the go command for a single
// run (go run, go test) rather than installed.
func builtByGo(exe string) bool {
	if strings.Contains(exe, string(os.PathSeparator)+"go-build") {
		return true
	}
	cache := os.Getenv("GOCACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "go-build")
		}
	}
	return cache != "" && strings.HasPrefix(exe, cache+string(os.PathSeparator))
}

// cmdPackageDir returns the path of this command's package relative to the
// working directory ("./cmd/greetspec" at the module root), or "".
func cmdPackageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			if !strings.Contains(string(data), "module github.com/greetspec/greetspec\n") {
				return ""
			}
			rel, err := filepath.Rel(wd, filepath.Join(dir, "cmd", "greetspec"))
			if err != nil {
				return ""
			}
			if rel != "." && !strings.HasPrefix(rel, "..") {
				rel = "./" + rel
			}
			return shellQuote(rel)
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
