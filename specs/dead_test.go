package specs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// deathEntry is the report entry a spec records when the implementation
// died (recordDeath), as it reads back from a JSON report.
func deathEntry(t *testing.T, d Death) types.ReportEntry {
	t.Helper()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return types.ReportEntry{Name: DeathEntry, Value: types.WrapEntryValue(string(data))}
}

// A spec skipped as blocked makes its requirement BLOCKED, never PASS or
// PARTIAL; a failed spec beside it keeps the requirement FAIL; the cause is
// gathered once with what it blocked, earliest death first, across specs
// that saw it separately (as parallel lanes do).
func TestBlockedVerdictsAndOneCause(t *testing.T) {
	target := Death{What: "the target 127.0.0.1:9", Kind: DeathTarget, Evidence: "connection refused at 127.0.0.1:9 after 7 accepted connections"}
	early, late := target, target
	early.At, late.At = time.Unix(100, 0), time.Unix(200, 0)
	early.Evidence = "connection refused at 127.0.0.1:9 after 3 accepted connections"
	blockedSpec := func(id, text string, d Death) types.SpecReport {
		d.Blocked = true
		return spec(id, text, types.SpecStateSkipped, BlockedPrefix+d.What+" stopped accepting connections: "+d.Evidence, deathEntry(t, d))
	}
	report := types.Report{SpecReports: []types.SpecReport{
		spec("SRV-GREET-1", "a", types.SpecStatePassed, ""),
		blockedSpec("SRV-GREET-1", "bb", late),
		// The spec during which it died: FAIL, with the death recorded.
		spec("SRV-GREET-2", "c", types.SpecStateFailed, "the server closed and reset the connection", deathEntry(t, early)),
		blockedSpec("SRV-GREET-2", "dd", late),
		blockedSpec("SRV-NAME-1", "e", late),
		spec("SRV-LOG-1", "f", types.SpecStateSkipped, NotObservablePrefix+"no log"),
	}}
	vs := Judge(report, RunInfo{RolesTested: []string{"server"}})

	if v := outcomeFor(t, vs, "SRV-GREET-1"); v.Outcome != OutcomeBlocked || !strings.Contains(v.Note, "blocked by the cause above") || !strings.Contains(v.Note, "1 of 2 specs") {
		t.Errorf("a passed and a blocked spec: %s (%s), want BLOCKED with the count", v.Outcome, v.Note)
	}
	if v := outcomeFor(t, vs, "SRV-GREET-2"); v.Outcome != OutcomeFail {
		t.Errorf("a failed and a blocked spec: %s, want FAIL (a real failure is never turned into BLOCKED)", v.Outcome)
	}
	if v := outcomeFor(t, vs, "SRV-NAME-1"); v.Outcome != OutcomeBlocked {
		t.Errorf("only blocked specs: %s, want BLOCKED", v.Outcome)
	}
	if v := outcomeFor(t, vs, "SRV-LOG-1"); v.Outcome != OutcomeNotObservable {
		t.Errorf("a not observable spec: %s, want NOT-OBSERVABLE", v.Outcome)
	}

	cs := Causes(vs)
	if len(cs) != 1 {
		t.Fatalf("causes: %+v, want one (one target)", cs)
	}
	c := cs[0]
	if c.Deaths != 1 || c.Blocked != 2 || c.BlockedSpecs != 3 || !strings.HasPrefix(c.First, "SRV-GREET-2 c") || !strings.Contains(c.Evidence, "after 3 accepted") {
		t.Errorf("cause %+v: want the earliest death (SRV-GREET-2 c, 3 accepted), 1 death, 2 requirements and 3 specs blocked", c)
	}

	var b strings.Builder
	WriteCauses(&b, cs)
	WriteVerdicts(&b, vs)
	out := b.String()
	for _, want := range []string{
		"The implementation under test died during the run",
		"the target 127.0.0.1:9 stopped accepting connections; first during SRV-GREET-2 c; it blocked 2 requirements (3 specs could not run)",
		"connection refused at 127.0.0.1:9 after 3 accepted connections",
		"SRV-NAME-1     MUST   server BLOCKED",
		"blocked by the cause above (the target 127.0.0.1:9): 1 of 1 specs could not run",
		"Requirements: 0 passed, 1 failed, 2 blocked, 0 partial, 1 not observable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "The implementation under test died") > strings.Index(out, "Per-requirement verdict:") {
		t.Errorf("the cause must come before the table:\n%s", out)
	}
	// The failed spec names the death first, then what it saw.
	died := strings.Index(out, "the target 127.0.0.1:9 stopped accepting connections: connection refused")
	saw := strings.Index(out, "the server closed and reset the connection")
	if died < 0 || saw < 0 || died > saw {
		t.Errorf("the failed spec's lines must name the death before what the spec saw:\n%s", out)
	}
}

// A plugin that died in several specs (and was restarted in between) is one
// cause, counted, with no requirement blocked: the specs during which it
// died keep their FAIL.
func TestRestartedPluginIsOneCause(t *testing.T) {
	var srs []types.SpecReport
	for i, text := range []string{"a", "bb", "ccc"} {
		d := Death{What: "the server plugin builtin:x", Kind: DeathPlugin, Evidence: "exited with status 3 (process 1" + string(rune('0'+i)) + ")", At: time.Unix(int64(300-i), 0)}
		srs = append(srs, spec("SRV-GREET-1", text, types.SpecStateFailed, d.message(), deathEntry(t, d)))
	}
	vs := Judge(types.Report{SpecReports: srs}, RunInfo{RolesTested: []string{"server"}})
	if v := outcomeFor(t, vs, "SRV-GREET-1"); v.Outcome != OutcomeFail {
		t.Fatalf("outcome %s, want FAIL", v.Outcome)
	}
	cs := Causes(vs)
	if len(cs) != 1 || cs[0].Deaths != 3 || cs[0].Blocked != 0 || cs[0].First != "SRV-GREET-1 ccc" {
		t.Fatalf("causes %+v: want one, 3 deaths, first during the earliest (ccc)", cs)
	}
	if s := cs[0].Summary(); s != "the server plugin builtin:x died 3 times; first during SRV-GREET-1 ccc" {
		t.Errorf("summary %q", s)
	}
	if msg := srs[0].Failure.Message; !strings.HasPrefix(msg, "the server plugin builtin:x exited with status 3 (process 10), during this spec") {
		t.Errorf("the spec's failure must name the death first: %q", msg)
	}
}

// No death, no cause: a correct run prints no cause block.
func TestNoCauseWithoutDeath(t *testing.T) {
	vs := Judge(types.Report{SpecReports: []types.SpecReport{spec("SRV-GREET-1", "a", types.SpecStatePassed, "")}}, RunInfo{RolesTested: []string{"server"}})
	if cs := Causes(vs); len(cs) != 0 {
		t.Fatalf("causes %+v, want none", cs)
	}
	var b strings.Builder
	WriteCauses(&b, nil)
	if b.Len() != 0 {
		t.Errorf("WriteCauses printed %q for no cause", b.String())
	}
}
