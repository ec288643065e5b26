package specs

import (
	"bytes"
	"fmt"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
)

// Server specs for the UTF-8 section of PROTOCOL.md: how a name's bytes are
// decoded, and that no byte sequence can stop the server.

var _ = DescribeRequirement("SRV-UTF8-1", func() {
	DescribeTable("decodes a valid UTF-8 name exactly",
		func(c fixtures.Name) {
			expectDecodedAs(c.Bytes, c.Name, "the server must decode a valid UTF-8 name exactly ("+c.Why+")")
		},
		fixtureEntries(fixtures.Names(), func(c fixtures.Name) string { return c.ID }),
	)
})

var _ = DescribeRequirement("SRV-UTF8-2", func() {
	DescribeTable("greets a client whose name is invalid UTF-8, then serves the next client",
		func(c fixtures.Invalid) {
			server := StartServer(untimedIdle())
			conn, res := greetThenClose(server, c.Bytes)
			// The event also says the server is done with that connection,
			// so that a server dying after it cannot let the next client in.
			var ev *contract.ConnectionEvent
			if server.Channel() != ChannelWire {
				ev = server.EventFor(conn, 0)
			}
			expectReplyAsSent(server, res, ev, "the server must greet a client whose name is not valid UTF-8 ("+c.Why+")")
			expectStillServing(server, "a name that is not valid UTF-8 ("+c.Why+")")
		},
		fixtureEntries(fixtures.InvalidUTF8(), func(c fixtures.Invalid) string { return c.ID }),
	)
})

var _ = DescribeRequirement("SRV-UTF8-3", func() {
	// A log line carries the decoded name, so the number of U+FFFD each
	// sequence became is judged through a log as well as through events.
	DescribeTable("replaces each maximal subpart of an invalid sequence with one U+FFFD",
		func(c fixtures.Invalid) {
			expectDecodedAs(c.Bytes, c.Decoded, "the server must decode invalid UTF-8 with one U+FFFD per maximal subpart ("+c.Why+")")
		},
		fixtureEntries(fixtures.InvalidUTF8(), func(c fixtures.Invalid) string { return c.ID }),
	)
})

var _ = DescribeRequirement("SRV-UTF8-4", func() {
	DescribeTable("decodes a character cut by the 1024-byte limit as one U+FFFD",
		func(c fixtures.Cut) {
			server := StartServer(0)
			conn := exchangeForEvent(server, c.Bytes)
			ev := server.EventFor(conn, 0)
			Expect(tail(ev.GetName(), 8)).To(HaveSuffix(c.DecodedTail),
				"the server decoded the name to one ending in %+q%s; it must end in %+q: a character cut at byte 1024 becomes one U+FFFD and is never completed from later bytes (%s)",
				tail(ev.GetName(), 8), bytesTaken(server, ev), c.DecodedTail, c.Why)
			server.expectRaw(ev, c.NameRaw,
				fmt.Sprintf("the name must be exactly the first %d bytes sent, with no byte past the limit (%s)", len(c.NameRaw), c.Why))
			Expect(ev.GetName()).To(Equal(contract.DecodeUTF8(c.NameRaw)),
				"the complete characters before the cut must be kept (%s)", c.Why)
		},
		fixtureEntries(fixtures.Cuts(), func(c fixtures.Cut) string { return c.ID }),
	)
})

// Helpers shared by the server specs on UTF-8, closure and robustness.

// fixtureEntries turns fixture cases into table entries described by their
// IDs, so a failure names the case in the fixture file.
func fixtureEntries[T any](cases []T, id func(T) string) []TableEntry {
	out := make([]TableEntry, 0, len(cases))
	for _, c := range cases {
		out = append(out, Entry(id(c), c))
	}
	return out
}

// fixtureNameByID returns the case of names.json with the given ID.
func fixtureNameByID(id string) fixtures.Name {
	GinkgoHelper()
	for _, n := range fixtures.Names() {
		if n.ID == id {
			return n
		}
	}
	Fail("fixtures: names.json has no case " + id)
	return fixtures.Name{}
}

// greetThenClose runs a conforming exchange and then closes the probe, as a
// client does once it has its reply: the server's drain then ends at once,
// so its event follows promptly instead of after T.
func greetThenClose(server *ServerUnderTest, name []byte) (*wire.Conn, wire.Result) {
	GinkgoHelper()
	conn, res := server.Greet(name)
	Expect(conn.Close()).To(Succeed())
	return conn, res
}

// exchangeForEvent sends name, half-closes, reads whatever comes back and closes,
// for specs that judge the server by its event alone. Errors are left to the
// transcript: a server that resets after a name longer than 1024 bytes
// breaks SRV-CLOSE-1, not the requirement such a spec checks.
func exchangeForEvent(server *ServerUnderTest, name []byte) *wire.Conn {
	GinkgoHelper()
	conn := server.Dial()
	if conn.Send(name, Settings.WaitTimeout) == nil {
		_ = conn.CloseWrite()
	}
	conn.ReadUntilEnd(0, Settings.WaitTimeout+server.Idle)
	_ = conn.Close()
	return conn
}

// expectStillServing checks, after something that might have stopped the
// server, that a fresh client still connects and is greeted.
func expectStillServing(server *ServerUnderTest, after string) {
	GinkgoHelper()
	name := fixtureNameByID("ascii")
	conn := server.dial("; it must still accept later clients after "+after, "probe client %s -> server (still serving?)")
	expectProbeOK(conn, conn.Send(name.Bytes, Settings.WaitTimeout), "the name had ended",
		"sending the name of a later client after "+after)
	expectProbeOK(conn, conn.CloseWrite(), "the name had ended", "half-closing a later client's name after "+after)
	res := conn.ReadUntilEnd(0, Settings.WaitTimeout+server.Idle)
	Expect(conn.Close()).To(Succeed())
	var ev *contract.ConnectionEvent
	if server.ObservesReplies() {
		ev = server.EventFor(conn, 0)
	}
	expectReplyAsSent(server, res, ev, "the server must still greet later clients after "+after)
}

// expectDecodedAs sends name to a fresh server and checks that the server
// took its bytes as sent and decoded them to want; rule says which
// requirement's decoding was expected.
func expectDecodedAs(name []byte, want, rule string) {
	GinkgoHelper()
	server := StartServer(untimedIdle())
	conn := exchangeForEvent(server, name)
	ev := server.EventFor(conn, 0)
	server.expectRaw(ev, name, "the server must take the name's bytes as sent")
	server.expectNamed(ev, want, fmt.Sprintf("the server decoded % x to %+q; %s, %+q", name, ev.GetName(), rule, want))
}

// expectReplyAsSent checks that a probe received a reply, and exactly the bytes
// the server reports having sent (when its events say so). Whether those are the right 22 bytes is
// SRV-GREET-1's business, so a wrong greeting fails that requirement and not
// every requirement that needs a client to be greeted.
func expectReplyAsSent(server *ServerUnderTest, res wire.Result, ev *contract.ConnectionEvent, what string) {
	GinkgoHelper()
	expectReplied(res, what)
	if !server.ObservesReplies() {
		return // only the arrival can be checked
	}
	Expect(res.Data).To(equalBytes(ev.GetReply()),
		"%s, and the greeting must arrive as the server sent it: %s; %s", what, res, describeEvent(ev))
}

// expectReplied checks that a probe received some reply.
func expectReplied(res wire.Result, what string) {
	GinkgoHelper()
	Expect(res.Data).NotTo(BeEmpty(), "the server sent nothing (%s); %s", res, what)
}

// equalBytes matches a byte slice equal to want, printing both quoted so
// that text reads as text and other bytes as escapes; nil and empty match.
func equalBytes(want []byte) types.GomegaMatcher {
	return WithTransform(func(b []byte) string { return fmt.Sprintf("%q", b) }, Equal(fmt.Sprintf("%q", want)))
}

// byteDiff says, cause first, how got differs from want: bytes added after
// or before, bytes missing at the end, or the first byte that differs. It
// keeps long names short by showing only the bytes that differ.
func byteDiff(want, got []byte) string {
	const show = 16
	clip := func(b []byte) string {
		if len(b) > show {
			return fmt.Sprintf("% x … (%d bytes)", b[:show], len(b))
		}
		return fmt.Sprintf("% x", b)
	}
	plural := func(n int) string {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}
	switch {
	case bytes.Equal(want, got):
		return "the same bytes"
	case len(got) == 0:
		return "nothing"
	case len(want) == 0:
		return fmt.Sprintf("%s (%s) where the name is empty", plural(len(got)), clip(got))
	case bytes.HasPrefix(got, want):
		return fmt.Sprintf("%s more after the name (%s)", plural(len(got)-len(want)), clip(got[len(want):]))
	case bytes.HasSuffix(got, want):
		return fmt.Sprintf("%s more before the name (%s)", plural(len(got)-len(want)), clip(got[:len(got)-len(want)]))
	case bytes.HasPrefix(want, got):
		return fmt.Sprintf("only the first %s of the name's %d", plural(len(got)), len(want))
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	return fmt.Sprintf("%s that differ from byte %d on (%s where the name has %s)", plural(len(got)), i, clip(got[i:]), clip(want[i:]))
}

// tail returns the last n characters of s, so that failure messages about
// 1024-byte names show the end that matters.
func tail(s string, n int) string {
	r := []rune(s)
	return string(r[max(0, len(r)-n):])
}
