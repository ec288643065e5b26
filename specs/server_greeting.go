package specs

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Specs of the server's greeting, name and log line (PROTOCOL.md, section
// Greeting). Each spec checks its own requirement only: the exact greeting
// bytes are SRV-GREET-1's, so other specs take a reply of the greeting's
// length as "greeted"; the empty name is SRV-NAME-2's; how the connection
// ends is SRV-GREET-3's and SRV-CLOSE-1's. A wrong server then fails the
// requirement it breaks, not half the suite.

var _ = DescribeRequirement("SRV-GREET-1", func() {
	DescribeTable("replies with exactly the greeting whatever the name",
		func(name []byte) {
			server := StartServer(untimedIdle())
			conn := server.Dial()
			sendName(conn, name)
			res := conn.ReadUntilEnd(0, Settings.WaitTimeout+server.Idle)
			Expect(res.Data).To(Equal([]byte(contract.Greeting)),
				"%s after the name had ended; it must send exactly the 22 bytes %q, with nothing before or after them",
				res.Did("the server"), contract.Greeting)
		},
		func() []TableEntry {
			var out []TableEntry
			for _, n := range nonEmptyNames() {
				out = append(out, Entry(n.ID, n.Bytes))
			}
			for _, c := range fixtures.InvalidUTF8() {
				out = append(out, Entry(c.ID, c.Bytes))
			}
			for _, l := range fixtures.Lengths() {
				if l.TotalBytes > 0 {
					out = append(out, Entry(l.ID, l.Bytes))
				}
			}
			return out
		}(),
	)
})

var _ = DescribeRequirement("SRV-GREET-2", func() {
	// A server may end a name after T of silence, so an early reply fails
	// only if the probe's own pause was shorter than T (server_timing.go).
	It("sends nothing to a client that has connected but not sent a byte", func() {
		server := StartServer(atOnceIdle)
		attemptTimed(server, "it must not send any byte before the name has ended", func() *earlyAction {
			conn := server.Dial()
			quiet := conn.ReadFor(quietWait())
			// No byte, no name: a greeting is never due, however late.
			Expect(quiet.Data).To(BeEmpty(), "the server sent %d bytes %q before the name had ended (nothing sent yet, no end of stream); it must not send any byte before the name has ended: %s",
				len(quiet.Data), quiet.Data, quiet)
			if quiet.End != wire.EndTimeout {
				return &earlyAction{conn: conn, did: quietDid(quiet), state: "nothing sent yet, no end of stream"}
			}
			name := fixtureName("ascii").Bytes
			if ea := peerEarly(conn, conn.Send(name, Settings.WaitTimeout), "sending the name", "nothing sent yet, no end of stream"); ea != nil {
				return ea
			}
			if ea := peerEarly(conn, conn.CloseWrite(), "half-closing after the name", fmt.Sprintf("all %d bytes sent", len(name))); ea != nil {
				return ea
			}
			expectGreeted(conn, Settings.WaitTimeout, "once end of stream has ended the name the server must greet")
			return nil
		})
	})

	DescribeTable("sends nothing while a name is still arriving",
		func(n fixtures.Name) {
			name := n.Bytes
			server := StartServer(atOnceIdle)
			half := len(name) / 2
			state := fmt.Sprintf("%d of %d bytes sent, no end of stream", half, len(name))
			attemptTimed(server, "it must not send any byte while the name is incomplete", func() *earlyAction {
				conn := server.Dial()
				if ea := peerEarly(conn, conn.Send(name[:half], Settings.WaitTimeout), "sending the first part of the name", "0 bytes sent, no end of stream"); ea != nil {
					return ea
				}
				stallProbe()
				quiet := conn.ReadFor(quietWait())
				if len(quiet.Data) > 0 || quiet.End != wire.EndTimeout {
					return &earlyAction{conn: conn, did: quietDid(quiet), state: state}
				}
				if ea := peerEarly(conn, conn.Send(name[half:], Settings.WaitTimeout), "sending the rest of the name", state); ea != nil {
					return ea
				}
				if ea := peerEarly(conn, conn.CloseWrite(), "half-closing after the name", fmt.Sprintf("all %d bytes sent", len(name))); ea != nil {
					return ea
				}
				expectGreeted(conn, Settings.WaitTimeout, "once end of stream has ended the name the server must greet")
				return nil
			})
		},
		splittableNameEntries(),
	)
})

var _ = DescribeRequirement("SRV-GREET-3", func() {
	It("closes with FIN after greeting a client that half-closed", func() {
		server := StartServer(untimedIdle())
		_, res := server.Greet(fixtureName("ascii").Bytes)
		Expect(res.End).To(Equal(wire.EndEOF), "%s; after the greeting the server must close the connection with FIN", res.Did("the server"))
	})

	It("closes with FIN after the greeting while the client keeps its sending side open", func() {
		server := StartServer(0)
		conn := server.Dial()
		// A name of exactly 1024 bytes ends by the limit, so the client
		// neither ends its stream nor closes: only the server can end the
		// connection. A server slow to see the limit (SRV-LIMIT-2) still
		// ends the name after T, hence the wait.
		Expect(conn.Send(fixtures.Payload(contract.MaxNameBytes), Settings.WaitTimeout)).To(Succeed(), "sending a 1024-byte name")
		res := conn.ReadUntilEnd(0, Settings.WaitTimeout+server.Idle)
		Expect(res.End).To(Equal(wire.EndEOF),
			"%s after a 1024-byte name, the client keeping its side open; after the greeting the server must close with FIN without waiting for the client to close first", res.Did("the server"))
	})
})

var _ = DescribeRequirement("SRV-NAME-1", func() {
	DescribeTable("accumulates a name written in pieces",
		func(n fixtures.Name) {
			server := StartServer(atOnceIdle) // pieces a gap apart, however late, are one name
			pieces := splitPieces(n.Bytes, 3)
			sentBefore := len(n.Bytes) - len(pieces[len(pieces)-1])
			// Pieces a pause of T or more apart are two names: only an
			// observation whose pauses were all shorter than T is judged
			// (server_timing.go).
			rule := fmt.Sprintf("it must accumulate a name written in %d pieces %v apart, less than T", len(pieces), Settings.Gap)
			attemptTimed(server, rule, func() *earlyAction {
				conn := server.Dial()
				if server.Channel() == ChannelWire {
					// The name itself is not observable: the wire shows only that
					// no reply comes before the last piece and end of stream.
					if ea := peerEarly(conn, conn.SendPiecesWhileOpen(pieces[:len(pieces)-1], Settings.Gap, Settings.WaitTimeout),
						"sending the name in pieces", fmt.Sprintf("fewer than %d of %d bytes sent, no end of stream", sentBefore, len(n.Bytes))); ea != nil {
						return ea
					}
					stallProbe()
					quiet := conn.ReadFor(Settings.Gap)
					if len(quiet.Data) > 0 || quiet.End != wire.EndTimeout {
						return &earlyAction{conn: conn, did: quietDid(quiet),
							state: fmt.Sprintf("%d of %d pieces, %d of %d bytes sent, no end of stream", len(pieces)-1, len(pieces), sentBefore, len(n.Bytes))}
					}
					if ea := peerEarly(conn, conn.Send(pieces[len(pieces)-1], Settings.WaitTimeout), "sending the last piece", fmt.Sprintf("%d of %d bytes sent, no end of stream", sentBefore, len(n.Bytes))); ea != nil {
						return ea
					}
					if ea := peerEarly(conn, conn.CloseWrite(), "half-closing after the name", fmt.Sprintf("all %d bytes sent", len(n.Bytes))); ea != nil {
						return ea
					}
					expectGreeted(conn, Settings.WaitTimeout+server.Idle, "once the last piece and end of stream have ended the name the server must greet")
					Partial("without a log only the wire is observed: no reply came before the whole name, but the name the server took is not observable")
					return nil
				}
				if ea := peerEarly(conn, conn.SendPiecesWhileOpen(pieces, Settings.Gap, Settings.WaitTimeout),
					"sending the name in pieces", fmt.Sprintf("fewer than %d bytes sent, no end of stream", len(n.Bytes))); ea != nil {
					return ea
				}
				if ea := peerEarly(conn, conn.CloseWrite(), "half-closing after the name", fmt.Sprintf("all %d bytes sent", len(n.Bytes))); ea != nil {
					return ea
				}
				conn.ReadUntilEnd(0, Settings.WaitTimeout+server.Idle)
				Expect(conn.Close()).To(Succeed())
				ev := server.EventFor(conn, 0)
				if pause := probePause(conn, lastSend(conn, soFar).At); pause >= server.Idle && string(ev.GetNameRaw()) != string(n.Bytes) && ev.GetName() != n.Name {
					// Two pieces T or more apart: the server may rightly
					// have ended the name between them.
					return &earlyAction{conn: conn, did: fmt.Sprintf("the server reported the name %+q", ev.GetName()), state: "a pause of T or more between pieces"}
				}
				why := fmt.Sprintf("the server reported the name %+q for the %d bytes written in %d pieces %v apart; it must accumulate the name across reads",
					ev.GetName(), len(n.Bytes), len(pieces), Settings.Gap)
				server.expectTaken(ev, n.Bytes, n.Name, why)
				return nil
			})
		},
		splittableNameEntries(),
	)
})

var _ = DescribeRequirement("SRV-NAME-2", func() {
	It("greets at once and logs a client that half-closes without sending a byte", func() {
		// A long T shows that end of stream, not T, ended the empty name.
		server := StartServer(atOnceIdle)
		window, within := server.AtOnce()
		var conn *wire.Conn
		attemptTimed(server, "the server must greet an empty name ended by end of stream at once", func() *earlyAction {
			conn = server.Dial()
			expectProbeOK(conn, conn.CloseWrite(), "the probe client had ended the empty name", "half-closing without sending")
			return greetedWithin(conn, len(contract.Greeting), window, within, "the server must greet an empty name ended by end of stream at once")
		})
		Expect(conn.Close()).To(Succeed())
		if server.Channel() == ChannelWire {
			Partial("without a log only the wire is observed: the empty name was greeted, but whether it was logged is not observable")
			return
		}
		ev := server.EventFor(conn, Settings.WaitTimeout)
		server.expectRaw(ev, nil, "the server must take the empty name")
		Expect(ev.GetName()).To(BeEmpty(), "the server must take the empty name: %s", describeEvent(ev))
		Expect(ev.GetLogLine()).NotTo(BeEmpty(), "the server must log the empty name: %s", describeEvent(ev))
	})
})

var _ = DescribeRequirement("SRV-NAME-3", func() {
	// Each case waits T, so two names stand for all: the tutorial's and one
	// with characters of every UTF-8 length.
	DescribeTable("greets a client that sends its name and then stays silent without closing",
		func(n fixtures.Name) {
			server := StartServer(0)
			conn := server.Dial()
			Expect(conn.Send(n.Bytes, Settings.WaitTimeout)).To(Succeed(), "sending the name")
			expectGreeted(conn, server.Idle+Settings.WaitTimeout,
				"after T of silence from a client that sent bytes the server must end the name and greet")
			Expect(conn.Close()).To(Succeed())
			if server.Channel() == ChannelWire {
				Partial("without a log only the wire is observed: the client was greeted after its silence, but the name the server took is not observable")
				return
			}
			ev := server.EventFor(conn, 0)
			server.expectTaken(ev, n.Bytes, n.Name, "the name ended by silence must be every byte sent")
		},
		Entry("ascii", fixtureName("ascii")),
		Entry("mixed-all-lengths", fixtureName("mixed-all-lengths")),
	)
})

var _ = DescribeRequirement("SRV-LOG-1", func() {
	It("logs exactly one line for a connection: no second line follows within T", func() {
		server := StartServer(untimedIdle())
		conn := server.Dial()
		sendName(conn, fixtureName("ascii").Bytes)
		conn.ReadUntilEnd(0, Settings.WaitTimeout+server.Idle)
		Expect(conn.Close()).To(Succeed())
		ev := server.EventFor(conn, 0)
		expectLogLine(server, ev, conn.LocalAddr())
		server.ExpectReportedOnce(conn)
	})

	DescribeTable("logs one line `connected with: <address> <name>` for the connection",
		func(name []byte) {
			server := StartServer(untimedIdle())
			conn := server.Dial()
			sendName(conn, name)
			conn.ReadUntilEnd(0, Settings.WaitTimeout+server.Idle)
			Expect(conn.Close()).To(Succeed())
			ev := server.EventFor(conn, 0)
			expectLogLine(server, ev, conn.LocalAddr())
		},
		func() []TableEntry {
			var out []TableEntry
			for _, n := range nonEmptyNames() {
				// Names the log must escape are SRV-LOG-2's.
				if loggedVerbatim(n.Name) && contract.EscapeLogName(n.Name) == n.Name {
					out = append(out, Entry(n.ID, n.Bytes))
				}
			}
			for _, l := range fixtures.Lengths() {
				if l.TotalBytes > 0 {
					out = append(out, Entry(l.ID, l.Bytes))
				}
			}
			return out
		}(),
	)
})

// logPrefix starts every log line (SRV-LOG-1).
const logPrefix = "connected with: "

// expectLogLine checks that ev's log line is `connected with: <address>
// <name>` on one line, where <address> names the peer local (IP and port,
// in any spelling) and <name> is the name the server reported. A followed
// log's line may carry a prefix of the log's own (a time, a unit name)
// before `connected with: `.
func expectLogLine(server *ServerUnderTest, ev *contract.ConnectionEvent, local string) {
	GinkgoHelper()
	line := ev.GetLogLine()
	Expect(strings.ContainsAny(line, "\r\n")).To(BeFalse(), "the log line must be one line: %s", describeEvent(ev))
	if server.Channel() == ChannelLog {
		i := strings.Index(line, logPrefix)
		if i < 0 {
			// Recognised by a log pattern of the user's: its form is the
			// pattern's, and the address and name are what it captured.
			Expect(namesPeer(ev.GetRemoteAddress(), local)).To(BeTrue(),
				"the log line's address must name the peer's IP address and port (%s): %s", local, describeEvent(ev))
			Partial("the log line was recognised by a custom --server-log-pattern, so its `connected with: ` form was not checked")
			return
		}
		line = line[i:]
	}
	Expect(line).To(HavePrefix(logPrefix), "the server must log `connected with: <address> <name>`: %s", describeEvent(ev))
	Expect(line).To(HaveSuffix(" "+ev.GetName()), "the log line must end with a space and the name: %s", describeEvent(ev))
	address := strings.TrimSuffix(strings.TrimPrefix(line, logPrefix), " "+ev.GetName())
	Expect(namesPeer(address, local)).To(BeTrue(),
		"the log line's address %q must name the peer's IP address and port (%s): %s", address, local, describeEvent(ev))
}

// digitRun matches a port number as written in any address spelling.
var digitRun = regexp.MustCompile(`[0-9]+`)

// namesPeer reports whether the logged address names local's IP address and
// port: "127.0.0.1:50000" and the tutorial's "('127.0.0.1', 50000)" both do.
func namesPeer(address, local string) bool {
	ip, port, err := net.SplitHostPort(local)
	if err != nil || !strings.Contains(address, ip) {
		return false
	}
	for _, n := range digitRun.FindAllString(strings.Replace(address, ip, " ", 1), -1) {
		if n == port {
			return true
		}
	}
	return false
}

// atOnceIdle is T for specs that tell "at once" from "after T": an outcome
// expected within WaitTimeout is then 30 s early, never a close race.
const atOnceIdle = 30 * time.Second

// expectGreeted reads a greeting-sized reply within wait and fails with why
// if none came. The reply's exact bytes are left to SRV-GREET-1.
func expectGreeted(conn *wire.Conn, wait time.Duration, why string) wire.Result {
	GinkgoHelper()
	res := conn.ReadUntilEnd(len(contract.Greeting), wait)
	Expect(res.Data).To(HaveLen(len(contract.Greeting)), "%s; %s", res.Did("the server"), why)
	return res
}

// sendName sends b as a whole name and half-closes, as a conforming client
// does.
func sendName(conn *wire.Conn, b []byte) {
	GinkgoHelper()
	if !sendBytes(conn, b) {
		return
	}
	if len(b) >= contract.MaxNameBytes {
		// The name ended at its 1024th byte: a server may already have
		// greeted and closed, so how the half-close fares is SRV-GREET-3's
		// and SRV-CLOSE-1's question (see sendBytes).
		_ = conn.CloseWrite()
		return
	}
	expectProbeOK(conn, conn.CloseWrite(), "the name had ended", "half-closing after the name")
}

// sendBytes sends b and reports whether the connection is still usable for
// sending. Bytes past the 1024-byte limit may meet a server that has
// already greeted and closed; whether that close was orderly is
// SRV-CLOSE-1's question, so failing to send them is no failure here.
func sendBytes(conn *wire.Conn, b []byte) bool {
	GinkgoHelper()
	err := conn.Send(b, Settings.WaitTimeout)
	if len(b) > contract.MaxNameBytes {
		return err == nil
	}
	expectProbeOK(conn, err, "the name had ended", "sending the name")
	return true
}

// splitPieces cuts b into at most n non-empty pieces of nearly equal size;
// cuts may fall inside a character, since the server accumulates bytes.
func splitPieces(b []byte, n int) [][]byte {
	n = min(n, len(b))
	pieces := make([][]byte, 0, n)
	for i := range n {
		pieces = append(pieces, b[i*len(b)/n:(i+1)*len(b)/n])
	}
	return pieces
}

// nonEmptyNames returns the fixture names with at least one byte.
func nonEmptyNames() []fixtures.Name {
	var out []fixtures.Name
	for _, n := range fixtures.Names() {
		if len(n.Bytes) > 0 {
			out = append(out, n)
		}
	}
	return out
}

// fixtureName returns the fixture name with the given ID; a missing one is
// a programming error.
func fixtureName(id string) fixtures.Name {
	for _, n := range fixtures.Names() {
		if n.ID == id {
			return n
		}
	}
	panic("specs: no fixture name " + id)
}

// splittableNameEntries has one entry per fixture name of two bytes or more,
// the names that can be sent in pieces.
func splittableNameEntries() []TableEntry {
	var out []TableEntry
	for _, n := range nonEmptyNames() {
		if len(n.Bytes) >= 2 {
			out = append(out, Entry(n.ID, n))
		}
	}
	return out
}
