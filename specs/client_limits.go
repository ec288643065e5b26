package specs

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// limitName is a name near the 1024-byte limit, built from the fixtures.
type limitName struct {
	ID   string
	Name string
	Why  string
}

// limitNames returns the names of CLI-LIMIT-1: the boundary lengths of
// lengths.json (ASCII), the names of cut.json (a multi-byte character at or
// across byte 1024, so that bytes and characters disagree), and every name
// of names.json repeated to the most copies that fit in 1024 bytes and to
// one copy more.
func limitNames() []limitName {
	var out []limitName
	for _, l := range fixtures.Lengths() {
		out = append(out, limitName{l.ID, string(l.Bytes), l.Why})
	}
	for _, c := range fixtures.Cuts() {
		out = append(out, limitName{c.ID, string(c.Bytes), c.Why})
	}
	for _, n := range fixtures.Names() {
		if len(n.Bytes) == 0 {
			continue
		}
		k := contract.MaxNameBytes / len(n.Bytes)
		out = append(out,
			limitName{n.ID + "-at-limit", strings.Repeat(n.Name, k),
				fmt.Sprintf("the name %s repeated %d times, as often as it fits in 1024 bytes", n.ID, k)},
			limitName{n.ID + "-over-limit", strings.Repeat(n.Name, k+1),
				fmt.Sprintf("the name %s repeated %d times, once more than fits in 1024 bytes", n.ID, k+1)})
	}
	return out
}

var _ = DescribeRequirement("CLI-LIMIT-1", func() {
	DescribeTable("sends a name of up to 1024 UTF-8 bytes whole and refuses a longer one without sending anything",
		func(c limitName) {
			size, chars := len(c.Name), utf8.RuneCountInString(c.Name)
			if size <= contract.MaxNameBytes {
				got := exchangeName(c.Name)
				// Exactness is CLI-SEND-1's concern; here every byte of the
				// name must arrive, neither refused nor cut.
				Expect(bytes.Contains(got, []byte(c.Name))).To(BeTrue(),
					"the client sent %s for a name of %d UTF-8 bytes (%d characters); it must send a name of up to 1024 bytes whole: %s",
					byteDiff([]byte(c.Name), got), size, chars, c.Why)
				return
			}

			probe := NewProbeServer()
			// The refusal needs no server, so the client gets the usual
			// timeout (a wrapped program must start within it). The probe
			// watches for a connection until the client returns: one that
			// connects fails at once, whatever it then sends.
			pending := StartGreet(probe.Addr(), c.Name, Settings.WaitTimeout)
			if conn := probe.AcceptOrReturn(pending); conn != nil {
				sent := conn.ReadFor(Settings.Gap)
				Fail(fmt.Sprintf("the client connected and sent %d bytes in the next %v for a name of %d UTF-8 bytes (%d characters); "+
					"it must refuse a name over 1024 bytes without connecting (an empty connection is an empty name to a server): %s",
					len(sent.Data), Settings.Gap, size, chars, c.Why))
			}
			pending.Wait(0)
			// A wrapped program has no error class of its own: its refusal
			// is recognised by its words ("too long", ...) or by an exit
			// status mapped with --client-outcome. One that exits non-zero
			// without saying why fails here, with a message saying which
			// words or mapping would make its refusal recognisable: the
			// requirement is to refuse with that class, and words or a
			// distinct exit status are the only way a program can tell its
			// user which failure it was; an exit status shared by every
			// failure cannot be told apart from, say, a refused connection.
			expectClass(pending, "ERROR_CLASS_NAME_TOO_LONG",
				fmt.Sprintf("a name of %d UTF-8 bytes (%d characters): %s", size, chars, c.Why))
		},
		func() []TableEntry {
			var entries []TableEntry
			for _, c := range limitNames() {
				entries = append(entries, Entry(c.ID, c))
			}
			return entries
		}())
})

var _ = DescribeRequirement("CLI-REPLY-2", func() {
	DescribeTable("returns exactly the first 1024 bytes of a long reply, without waiting for more",
		func(r fixtures.Reply) {
			expectReply(playReply(r, Settings.WaitTimeout), r)
		},
		replyEntries("CLI-REPLY-2"))
})
