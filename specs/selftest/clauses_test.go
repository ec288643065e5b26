package selftest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/greetspec/greetspec/fixtures"
	"github.com/greetspec/greetspec/plugins/faulty"
	"github.com/greetspec/greetspec/specs"
)

// fixtureIDs returns every fixture row as "file:id".
func fixtureIDs() map[string]bool {
	ids := map[string]bool{}
	add := func(file string, id string) { ids[file+":"+id] = true }
	for _, n := range fixtures.Names() {
		add("names.json", n.ID)
	}
	for _, n := range fixtures.ControlNames() {
		add("control_names.json", n.ID)
	}
	for _, c := range fixtures.InvalidUTF8() {
		add("invalid_utf8.json", c.ID)
	}
	for _, l := range fixtures.Lengths() {
		add("lengths.json", l.ID)
	}
	for _, c := range fixtures.Cuts() {
		add("cut.json", c.ID)
	}
	for _, r := range fixtures.Replies() {
		add("replies.json", r.ID)
	}
	return ids
}

// normative matches the keywords that make a clause of a sentence.
var normative = regexp.MustCompile(`\b(MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)\b`)

// TestClauseCoverage checks the clause table against PROTOCOL.md, the
// fixtures and the faulty registry, so that coverage cannot shrink
// silently: every requirement is split into clauses that quote its
// sentence and hold every one of its MUSTs and SHOULDs; every clause has a
// fixture row or a faulty plugin; every reference exists; every faulty
// plugin listed kills the clause's requirement; and every fault appears
// under a clause of each requirement it kills.
func TestClauseCoverage(t *testing.T) {
	clauses := Clauses()
	rows := fixtureIDs()
	byReq := map[string][]Clause{}
	for _, c := range clauses {
		byReq[c.Requirement] = append(byReq[c.Requirement], c)
	}
	for _, r := range specs.Catalogue() {
		cs := byReq[r.ID]
		if len(cs) == 0 {
			t.Errorf("%s: no clause in clauses.json", r.ID)
			continue
		}
		covered := make([]bool, len(r.Text))
		for _, c := range cs {
			i := strings.Index(r.Text, c.Clause)
			if i < 0 {
				t.Errorf("%s: clause %q is not part of the sentence %q", r.ID, c.Clause, r.Text)
				continue
			}
			for j := i; j < i+len(c.Clause); j++ {
				covered[j] = true
			}
		}
		for _, m := range normative.FindAllStringIndex(r.Text, -1) {
			if !covered[m[0]] {
				t.Errorf("%s: %q at %q... is in no clause", r.ID, r.Text[m[0]:m[1]], r.Text[m[0]:min(len(r.Text), m[0]+40)])
			}
		}
		delete(byReq, r.ID)
	}
	for id := range byReq {
		t.Errorf("clauses.json names %s, which PROTOCOL.md does not have", id)
	}

	listed := map[string]bool{} // "fault requirement" pairs in the table
	for _, c := range clauses {
		where := fmt.Sprintf("%s %q", c.Requirement, c.Clause)
		if len(c.Fixtures) == 0 && len(c.Faulty) == 0 {
			t.Errorf("%s: no fixture row and no faulty plugin: nothing shows a violation of it is caught", where)
		}
		for _, f := range c.Fixtures {
			if !rows[f] {
				t.Errorf("%s: no fixture row %s", where, f)
			}
		}
		for _, name := range c.Faulty {
			f, ok := faulty.Lookup(name)
			switch {
			case !ok:
				t.Errorf("%s: no faulty plugin %s", where, name)
			case !slices.Contains(f.Kills, c.Requirement):
				t.Errorf("%s: faulty/%s does not declare that it kills %s (it kills %v)", where, name, c.Requirement, f.Kills)
			}
			listed[name+" "+c.Requirement] = true
		}
	}
	for _, f := range faulty.All() {
		for _, id := range f.Kills {
			if !listed[f.Name+" "+id] {
				t.Errorf("faulty/%s kills %s but is listed under none of its clauses", f.Name, id)
			}
		}
	}
}

// TestClauseCoverageCatchesGaps checks that the checks above can fail: a
// table missing a clause, quoting a sentence wrongly or citing a missing
// row is refused.
func TestClauseCoverageCatchesGaps(t *testing.T) {
	if _, err := parseClauses([]byte(`{"description": "d", "clauses": []}`)); err == nil {
		t.Error("an empty table was accepted")
	}
	if _, err := parseClauses([]byte(`{"description": "d", "clauses": [{"requirement": "X", "clause": "y", "fixture": []}]}`)); err == nil {
		t.Error("a misspelt field was accepted")
	}
	sentence := "The server MUST do a, and SHOULD do b."
	covered := make([]bool, len(sentence))
	i := strings.Index(sentence, "MUST do a")
	for j := i; j < i+len("MUST do a"); j++ {
		covered[j] = true
	}
	var missed []string
	for _, m := range normative.FindAllStringIndex(sentence, -1) {
		if !covered[m[0]] {
			missed = append(missed, sentence[m[0]:m[1]])
		}
	}
	if !slices.Equal(missed, []string{"SHOULD"}) {
		t.Errorf("uncovered keywords %v, want [SHOULD]", missed)
	}
	if fixtureIDs()["names.json:no-such-row"] {
		t.Error("a missing fixture row was found")
	}
}

func TestUnnamedFault(t *testing.T) {
	c := Case{Plugin: "builtin:faulty/x", Role: "server", Kills: []string{"SRV-GREET-1"},
		Expect: map[string]string{"SRV-GREET-1": `22 bytes "Welcome`}}
	req, _ := specs.LookupRequirement("SRV-GREET-1")
	v := specs.Verdict{Requirement: req, Outcome: specs.OutcomeFail, Specs: []specs.SpecOutcome{
		{Text: "a", State: "failed", Message: `after the name has ended ...: 22 bytes "Welcome to Asif server", end eof` + "\nmore"},
		{Text: "b", State: "failed", Message: "Expected success, but got an error:\n" + `22 bytes "Welcome`},
		{Text: "c", State: "passed"},
	}}
	problems := Check(c, []specs.Verdict{v})
	if len(problems) != 1 || !strings.Contains(problems[0], "does not name the fault") || !strings.Contains(problems[0], ": b: ") {
		t.Errorf("problems %q, want one for spec b only", problems)
	}
	if got := FailureHead("Timed out after 4.5s.\nthe client must have returned\nExpected..."); got != "Timed out after 4.5s. the client must have returned" {
		t.Errorf("FailureHead = %q", got)
	}
}

// TestEveryFaultNamesItself checks that each fault's Expect expressions
// compile and cover exactly its killed requirements (Register enforces the
// same at start-up; this keeps the rule visible in the tests).
func TestEveryFaultNamesItself(t *testing.T) {
	for _, f := range faulty.All() {
		for _, id := range f.Kills {
			if _, err := regexp.Compile(f.Expect[id]); err != nil || f.Expect[id] == "" {
				t.Errorf("faulty/%s: Expect[%s] = %q: %v", f.Name, id, f.Expect[id], err)
			}
		}
		if len(f.Expect) != len(f.Kills) {
			t.Errorf("faulty/%s: %d Expect entries for %d kills", f.Name, len(f.Expect), len(f.Kills))
		}
	}
}

// Every slow case named for lanes of its own is a case: a renamed plugin
// must not lose its hint silently.
func TestSlowCasesAreCases(t *testing.T) {
	known := map[string]bool{}
	for _, c := range Cases() {
		known[c.Plugin] = true
	}
	for plugin, n := range slowCases {
		if !known[plugin] {
			t.Errorf("slowCases names %s, which is no self-test case", plugin)
		}
		if n < 2 {
			t.Errorf("slowCases gives %s %d lanes; a hint below 2 means nothing", plugin, n)
		}
	}
}
