package specs

import (
	"strings"
	"testing"
)

// Every requirement of PROTOCOL.md must be checked by at least one spec.
func TestEveryRequirementHasASpec(t *testing.T) {
	if missing := UncoveredRequirements(); len(missing) > 0 {
		t.Errorf("requirements without a spec: %s", strings.Join(missing, ", "))
	}
}

// A spec that names an unknown requirement fails when the suite loads.
func TestUnknownRequirementIsRejected(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "SRV-NOPE-9 is not in PROTOCOL.md") {
			t.Errorf("want a panic naming SRV-NOPE-9, got %v", r)
		}
	}()
	DescribeRequirement("SRV-NOPE-9", func() {})
}

func TestParseCatalogue(t *testing.T) {
	for _, c := range []struct {
		name, doc, wantErr string
	}{
		{"malformed", "- **SRV-X-1** (MUST, server): no area\n", "malformed"},
		{"duplicate", "- **SRV-X-1** (MUST, server, greeting): It MUST.\n- **SRV-X-1** (MUST, server, greeting): It MUST.\n", "duplicate"},
		{"level missing from sentence", "- **SRV-X-1** (SHOULD, server, greeting): It MUST.\n", "lacks its level"},
		{"empty", "# nothing\n", "no requirements"},
	} {
		if _, err := parseCatalogue(c.doc); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.wantErr)
		}
	}
	reqs, err := parseCatalogue("- **CLI-X-1** (MAY, client, utf8): It MAY.\n  *Rationale:* because.\n")
	if err != nil || len(reqs) != 1 || reqs[0].Rationale != "because." || reqs[0].Area != "utf8" {
		t.Errorf("parsed %+v, %v", reqs, err)
	}
}

func TestCatalogueMatchesDocument(t *testing.T) {
	n := strings.Count(protocolDoc, "\n- **SRV-") + strings.Count(protocolDoc, "\n- **CLI-")
	if len(catalogue) != n || n == 0 {
		t.Errorf("catalogue has %d requirements, document has %d requirement bullets", len(catalogue), n)
	}
}
