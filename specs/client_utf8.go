package specs

import (
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = DescribeRequirement("CLI-SEND-1", func() {
	DescribeTable("sends exactly the name's UTF-8 bytes, with no BOM, line ending or normalisation",
		func(n fixtures.Name) {
			got := exchangeName(n.Name)
			Expect(string(got)).To(Equal(string(n.Bytes)),
				"the client sent %s for the name %s; it must send exactly the name's %d UTF-8 bytes (% x): %s",
				byteDiff(n.Bytes, got), n.ID, len(n.Bytes), n.Bytes, n.Why)
		},
		func() []TableEntry {
			var entries []TableEntry
			for _, n := range append(fixtures.Names(), fixtures.ControlNames()...) {
				entries = append(entries, Entry(n.ID, n))
			}
			return entries
		}())
})

var _ = DescribeRequirement("CLI-UTF8-1", func() {
	DescribeTable("returns an invalid UTF-8 reply raw and shows it with one U+FFFD per maximal subpart",
		func(r fixtures.Reply) {
			expectReply(playReply(r, Settings.WaitTimeout), r)
		},
		func() []TableEntry {
			entries := replyEntries("CLI-UTF8-1")
			// Every invalid sequence of invalid_utf8.json as a whole reply,
			// written at once and followed by an orderly close.
			for _, inv := range fixtures.InvalidUTF8() {
				entries = append(entries, Entry(inv.ID, fixtures.Reply{
					ID: inv.ID, Pieces: [][]byte{inv.Bytes}, Close: fixtures.CloseFIN,
					ExpectReply: inv.Bytes, ExpectShown: inv.Decoded, ExpectClass: "NONE",
					Why: "a reply of " + inv.Why,
				}))
			}
			return entries
		}())
})
