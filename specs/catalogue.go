package specs

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

//go:embed PROTOCOL.md
var protocolDoc string

// Requirement is one numbered requirement of PROTOCOL.md.
type Requirement struct {
	// ID is the stable identifier, for example SRV-UTF8-2.
	ID string
	// Level is MUST, SHOULD or MAY.
	Level string
	// Role is server or client.
	Role string
	// Area is greeting, utf8, limits, closure or robustness.
	Area string
	// Text is the requirement's sentence.
	Text string
	// Rationale is its one-sentence reason.
	Rationale string
}

// requirementLine matches `- **ID** (LEVEL, role, area): sentence`.
var requirementLine = regexp.MustCompile(`^- \*\*([A-Z]+-[A-Z0-9]+-[0-9]+)\*\* \((MUST|SHOULD|MAY), (server|client), (greeting|utf8|limits|closure|robustness)\): (.+)$`)

var catalogue = mustParseCatalogue(protocolDoc)

// Catalogue returns every requirement of PROTOCOL.md in document order.
func Catalogue() []Requirement { return append([]Requirement(nil), catalogue...) }

// LookupRequirement returns the requirement with the given ID.
func LookupRequirement(id string) (Requirement, bool) {
	for _, r := range catalogue {
		if r.ID == id {
			return r, true
		}
	}
	return Requirement{}, false
}

func mustParseCatalogue(doc string) []Requirement {
	reqs, err := parseCatalogue(doc)
	if err != nil {
		panic("specs: PROTOCOL.md: " + err.Error())
	}
	return reqs
}

func parseCatalogue(doc string) ([]Requirement, error) {
	var reqs []Requirement
	seen := map[string]bool{}
	lines := strings.Split(doc, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "- **") || !strings.Contains(line, "-") {
			continue
		}
		m := requirementLine.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(line, "- **SRV-") || strings.HasPrefix(line, "- **CLI-") {
				return nil, fmt.Errorf("line %d looks like a requirement but is malformed: %s", i+1, line)
			}
			continue
		}
		r := Requirement{ID: m[1], Level: m[2], Role: m[3], Area: m[4], Text: m[5]}
		if seen[r.ID] {
			return nil, fmt.Errorf("line %d: duplicate requirement %s", i+1, r.ID)
		}
		if !strings.Contains(r.Text, r.Level) {
			return nil, fmt.Errorf("line %d: %s's sentence lacks its level keyword %s", i+1, r.ID, r.Level)
		}
		if i+1 < len(lines) {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i+1]), "*Rationale:*"); ok {
				r.Rationale = strings.TrimSpace(rest)
			}
		}
		seen[r.ID] = true
		reqs = append(reqs, r)
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("no requirements found")
	}
	return reqs, nil
}
