// Package report renders the verdict of a conformance run for people and
// for CI: a self-contained HTML page (WriteHTML) and expected-failure lists
// (ReadExpected, CheckExpected, WriteExpected), the way the Connect and
// protobuf conformance runners keep their known failures.
package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/greetspec/greetspec/specs"
)

// Run is what one report describes.
type Run struct {
	// Title heads the page, for example "greetspec conformance".
	Title string
	// Tested names the implementations under test, role -> reference.
	Tested map[string]string
	// Settings are the run's settings as shown to the reader (T, waits...).
	Settings map[string]string
	// Verdicts are the per-requirement verdicts, in document order.
	Verdicts []specs.Verdict
	// Repro gives the command that reruns one requirement; nil shows none.
	Repro func(specs.Verdict) string
	// Summary is the run's closing line (what was verified, exit status).
	Summary string
}

// ReadExpected reads an expected-failure list: one requirement ID per line;
// blank lines and text after '#' are ignored. Unknown IDs are errors, so a
// typo cannot hide a failure.
func ReadExpected(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		id := strings.TrimSpace(line)
		if id == "" {
			continue
		}
		if _, ok := specs.LookupRequirement(id); !ok {
			return nil, fmt.Errorf("%s:%d: %q is not a requirement of PROTOCOL.md", path, n, id)
		}
		out[id] = true
	}
	return out, sc.Err()
}

// Expectation is how a run compares with an expected-failure list.
type Expectation struct {
	// UnexpectedFailures failed but are not on the list.
	UnexpectedFailures []string
	// UnexpectedPasses are on the list but passed: the list must shrink.
	UnexpectedPasses []string
	// Unjudged are on the list but were not verified by this run (not
	// selected, not observable, interrupted); they neither pass nor fail.
	Unjudged []string
}

// Met reports whether the run's failures are exactly the expected ones.
func (e Expectation) Met() bool {
	return len(e.UnexpectedFailures) == 0 && len(e.UnexpectedPasses) == 0
}

// String says what differs, one line per kind, or that the list matched.
func (e Expectation) String() string {
	if e.Met() {
		s := "expected failures: the run's failures match the list"
		if len(e.Unjudged) > 0 {
			s += fmt.Sprintf(" (%s on the list not judged by this run)", strings.Join(e.Unjudged, ", "))
		}
		return s
	}
	var parts []string
	if len(e.UnexpectedFailures) > 0 {
		parts = append(parts, "unexpected failure of "+strings.Join(e.UnexpectedFailures, ", ")+" (not on the expected-failure list)")
	}
	if len(e.UnexpectedPasses) > 0 {
		parts = append(parts, "unexpected pass of "+strings.Join(e.UnexpectedPasses, ", ")+" (on the expected-failure list: remove it)")
	}
	return "expected failures: " + strings.Join(parts, "; ")
}

// CheckExpected compares the verdicts with an expected-failure list.
func CheckExpected(vs []specs.Verdict, expected map[string]bool) Expectation {
	var e Expectation
	for _, v := range vs {
		id := v.Requirement.ID
		switch {
		case v.Outcome == specs.OutcomeFail && !expected[id]:
			e.UnexpectedFailures = append(e.UnexpectedFailures, id)
		case v.Outcome == specs.OutcomePass && expected[id]:
			e.UnexpectedPasses = append(e.UnexpectedPasses, id)
		case v.Outcome != specs.OutcomeFail && expected[id]:
			e.Unjudged = append(e.Unjudged, id)
		}
	}
	return e
}

// WriteExpected writes the run's failed requirements as an expected-failure
// list, each with its sentence as a comment.
func WriteExpected(w io.Writer, vs []specs.Verdict) error {
	var ids []string
	text := map[string]string{}
	for _, v := range vs {
		if v.Outcome == specs.OutcomeFail {
			ids = append(ids, v.Requirement.ID)
			text[v.Requirement.ID] = v.Requirement.Text
		}
	}
	sort.Strings(ids)
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, "# Requirements known to fail for this implementation (greetspec --expect-failures).")
	fmt.Fprintln(b, "# Remove a line once its requirement passes: an unexpected pass fails the run.")
	for _, id := range ids {
		fmt.Fprintf(b, "%s  # %s\n", id, oneLine(text[id], 100))
	}
	return b.Flush()
}

// oneLine shortens s to n runes on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
