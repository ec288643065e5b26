package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greetspec/greetspec/specs"
)

// verdicts returns the catalogue with the given outcomes (PASS elsewhere).
func verdicts(outcomes map[string]specs.Outcome) []specs.Verdict {
	var vs []specs.Verdict
	for _, r := range specs.Catalogue() {
		o, ok := outcomes[r.ID]
		if !ok {
			o = specs.OutcomePass
		}
		v := specs.Verdict{Requirement: r, Outcome: o}
		if o == specs.OutcomeFail {
			v.Specs = []specs.SpecOutcome{{
				Text: "sends the greeting <exactly>", State: "failed",
				Message:     "the server must send 22 bytes: got \"welcome\\n\"",
				Location:    "specs/server_greeting.go:21",
				Transcripts: []string{"wire transcript: probe\nrecv 7 bytes"},
			}}
		}
		vs = append(vs, v)
	}
	return vs
}

func TestExpectedFailuresRoundTrip(t *testing.T) {
	vs := verdicts(map[string]specs.Outcome{"SRV-GREET-1": specs.OutcomeFail, "CLI-UTF8-1": specs.OutcomeFail})
	path := filepath.Join(t.TempDir(), "expected.txt")
	var buf bytes.Buffer
	if err := WriteExpected(&buf, vs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	exp, err := ReadExpected(path)
	if err != nil {
		t.Fatal(err)
	}
	if e := CheckExpected(vs, exp); !e.Met() {
		t.Errorf("the written list does not match its own run: %s", e)
	}
	// A new failure and a fixed requirement each break the match, by name.
	later := verdicts(map[string]specs.Outcome{"SRV-GREET-1": specs.OutcomeFail, "SRV-LOG-2": specs.OutcomeFail})
	e := CheckExpected(later, exp)
	if e.Met() || !strings.Contains(e.String(), "unexpected failure of SRV-LOG-2") || !strings.Contains(e.String(), "unexpected pass of CLI-UTF8-1") {
		t.Errorf("CheckExpected = %s", e)
	}
	// A requirement on the list that this run did not judge is neither.
	partial := verdicts(map[string]specs.Outcome{"SRV-GREET-1": specs.OutcomeFail, "CLI-UTF8-1": specs.OutcomeSkipped})
	if e := CheckExpected(partial, exp); !e.Met() || len(e.Unjudged) != 1 {
		t.Errorf("a skipped expected failure: %+v", e)
	}
}

func TestReadExpectedRejectsUnknownIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "expected.txt")
	if err := os.WriteFile(path, []byte("# comment\n\nSRV-GREET-1 # known\nSRV-GRET-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadExpected(path); err == nil || !strings.Contains(err.Error(), ":4:") {
		t.Errorf("ReadExpected = %v, want an error naming line 4", err)
	}
}

func TestWriteHTML(t *testing.T) {
	vs := verdicts(map[string]specs.Outcome{"SRV-GREET-1": specs.OutcomeFail, "SRV-LOG-1": specs.OutcomeNotObservable})
	var buf bytes.Buffer
	err := WriteHTML(&buf, Run{
		Title: "greetspec conformance", Tested: map[string]string{"server": "builtin:faulty/x"},
		Settings: map[string]string{"T": "1s"}, Verdicts: vs,
		Repro:   func(v specs.Verdict) string { return "greetspec run --label-filter " + v.Requirement.ID },
		Summary: "1 failed",
	})
	if err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		`<tr class="fail" id="SRV-GREET-1">`, "sends the greeting &lt;exactly&gt;",
		"recv 7 bytes", "greetspec run --label-filter SRV-GREET-1", "builtin:faulty/x",
		`<tr class="not-observable" id="SRV-LOG-1">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, external := range []string{"http://", "https://", "<link", "src="} {
		if strings.Contains(page, external) {
			t.Errorf("page refers to an external asset (%q)", external)
		}
	}
}

// A dead implementation is stated once above the table, its BLOCKED
// requirements are marked and refer to it, and a spec during which it died
// says so.
func TestWriteHTMLStatesTheCauseOnce(t *testing.T) {
	vs := verdicts(map[string]specs.Outcome{"SRV-GREET-1": specs.OutcomeFail, "SRV-LOG-2": specs.OutcomeBlocked})
	died := &specs.Death{What: "the target 127.0.0.1:9", Kind: specs.DeathTarget, Evidence: "connection refused at 127.0.0.1:9 after 5 accepted connections"}
	for i := range vs {
		switch vs[i].Requirement.ID {
		case "SRV-GREET-1":
			vs[i].Specs[0].Death = died
		case "SRV-LOG-2":
			blocked := *died
			blocked.Blocked = true
			vs[i].Note = "blocked by the cause above (the target 127.0.0.1:9): 1 of 1 specs could not run"
			vs[i].Specs = []specs.SpecOutcome{{Text: "escapes <x>", State: "skipped", Status: specs.StatusBlocked, Death: &blocked}}
		}
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, Run{Title: "t", Verdicts: vs}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		`<section class="cause" id="causes">`,
		"the target 127.0.0.1:9 stopped accepting connections; first during SRV-GREET-1 sends the greeting &lt;exactly&gt;; it blocked 1 requirement (1 spec could not run)",
		"connection refused at 127.0.0.1:9 after 5 accepted connections",
		`<tr class="blocked" id="SRV-LOG-2">`,
		"blocked by the cause above (the target 127.0.0.1:9)",
		"the target 127.0.0.1:9 died during this spec (see the cause at the top)",
		`<b class="v">BLOCKED</b> 1`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, `class="cause"`); n != 1 {
		t.Errorf("the cause section appears %d times, want once", n)
	}
	if strings.Index(page, `id="causes"`) > strings.Index(page, `id="verdicts"`) {
		t.Error("the cause comes after the table")
	}
}
