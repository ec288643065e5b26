package specs

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
)

var (
	describedMu sync.Mutex
	described   = map[string]int{}
)

// DescribeRequirement declares the specs that check one requirement of
// PROTOCOL.md. The container's text is the requirement's ID, level and
// sentence, and it carries the labels that select it: the ID itself, the
// role, the level (must, should, may) and the area. Specs of a role whose
// plugin is not under test are skipped. An unknown ID panics at load time,
// so a spec can never name a requirement the document lacks.
func DescribeRequirement(id string, body func()) bool {
	r, ok := LookupRequirement(id)
	if !ok {
		panic(fmt.Sprintf("specs: requirement %s is not in PROTOCOL.md", id))
	}
	describedMu.Lock()
	described[id]++
	describedMu.Unlock()
	text := fmt.Sprintf("%s (%s): %s", r.ID, r.Level, r.Text)
	return Describe(text, Label(r.ID, r.Role, strings.ToLower(r.Level), r.Area), priorityHint(r.ID), func() {
		BeforeEach(func() {
			if (r.Role == "server" && !serverUnderTest()) || (r.Role == "client" && Settings.Client == "") {
				Skip("no " + r.Role + " under test")
			}
		})
		body()
	})
}

// UncoveredRequirements returns the IDs of requirements no spec describes.
func UncoveredRequirements() []string {
	describedMu.Lock()
	defer describedMu.Unlock()
	var out []string
	for _, r := range catalogue {
		if described[r.ID] == 0 {
			out = append(out, r.ID)
		}
	}
	sort.Strings(out)
	return out
}

// RequirementOf returns the requirement ID among a spec's labels, if any.
func RequirementOf(labels []string) (string, bool) {
	for _, l := range labels {
		if _, ok := LookupRequirement(l); ok {
			return l, true
		}
	}
	return "", false
}
