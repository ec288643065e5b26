package specs

import (
	"fmt"
	"strings"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Server specs for the robustness section of PROTOCOL.md: concurrency and
// log escaping.

// longIdle is the idle timeout of servers in specs that must tell "at once"
// from "after T": a server that waits for T is then 30 s late, never a
// close call against WaitTimeout.
const longIdle = 30 * time.Second

// simultaneousClients is how many clients SRV-CONC-2 connects at once.
const simultaneousClients = 32

var _ = DescribeRequirement("SRV-CONC-1", func() {
	It("greets a client promptly while another connected client stays idle", func() {
		server := StartServer(longIdle)
		window, within := server.AtOnce()
		idle := server.Dial()
		name := fixtureNameByID("ascii")
		rule := fmt.Sprintf("while another connected client (%s) stayed idle; the server must greet a client promptly whatever other clients do", idle.LocalAddr())
		attemptTimed(server, rule, func() *earlyAction {
			conn := server.Dial()
			expectProbeOK(conn, conn.Send(name.Bytes, Settings.WaitTimeout), "the name had ended", "sending the name")
			expectProbeOK(conn, conn.CloseWrite(), "the name had ended", "half-closing after the name")
			return greetedWithin(conn, 1, window, within, rule)
		})
	})
})

var _ = DescribeRequirement("SRV-CONC-2", func() {
	It(fmt.Sprintf("greets %d simultaneous clients and reports each once with its own name", simultaneousClients), func() {
		server := StartServer(longIdle) // a slow dial of 32 clients must not let T end a name
		base := fixtureNameByID("ascii").Name
		conns := make([]*wire.Conn, simultaneousClients)
		names := make([]string, simultaneousClients)
		for i := range conns {
			conns[i] = server.Dial()
			names[i] = fmt.Sprintf("%s-%02d", base, i)
		}
		// Every client is connected before any sends; every name is sent
		// before any reply is read.
		for i, conn := range conns {
			doing := fmt.Sprintf("sending the name of client %d of %d", i+1, simultaneousClients)
			expectProbeOK(conn, conn.Send([]byte(names[i]), Settings.WaitTimeout), "the name had ended", doing)
			expectProbeOK(conn, conn.CloseWrite(), "the name had ended", doing)
		}
		deadline := time.Now().Add(Settings.WaitTimeout + server.Idle)
		results := make([]wire.Result, simultaneousClients)
		for i, conn := range conns {
			results[i] = conn.ReadUntilEnd(0, time.Until(deadline))
			Expect(conn.Close()).To(Succeed())
		}
		what := func(i int) string {
			return fmt.Sprintf("the server must greet each of %d simultaneous clients; client %d", simultaneousClients, i+1)
		}
		// A client left without a reply fails at once, before the wait
		// for its connection's event (which would not come either).
		for i := range conns {
			expectReplied(results[i], what(i))
		}
		var events []*contract.ConnectionEvent
		if server.Channel() != ChannelWire {
			for _, conn := range conns {
				events = append(events, server.EventFor(conn, 0))
			}
		}
		for i := range conns {
			what := what(i)
			var ev *contract.ConnectionEvent
			if events != nil {
				ev = events[i]
			}
			expectReplyAsSent(server, results[i], ev, what)
		}
		if server.Channel() == ChannelWire {
			Partial("without a log only the wire is observed: every client was greeted, but whether each was reported once with its own name is not observable")
			return
		}
		for i, ev := range events {
			Expect(ev.GetName()).To(Equal(names[i]),
				"the server must report each simultaneous client with its own name: %s", describeEvent(ev))
		}
		// A second report of any of them during the settle time fails.
		settle := server.settleTime()
		Consistently(func() []string {
			var twice []string
			for _, conn := range conns {
				if n := len(server.EventsFrom(conn.LocalAddr())); n != 1 {
					twice = append(twice, fmt.Sprintf("%s reported %d times", conn.LocalAddr(), n))
				}
			}
			return twice
		}).WithTimeout(settle).WithPolling(20*time.Millisecond).Should(BeEmpty(),
			"the server must report each of %d simultaneous connections exactly once (watched for %v, the settle time T, after all were reported)",
			simultaneousClients, settle)
		if !server.external {
			// A server started for this spec has no other clients.
			Expect(server.Events()).To(HaveLen(simultaneousClients),
				"the server must report each of %d simultaneous connections exactly once, and no other", simultaneousClients)
		}
	})
})

var _ = DescribeRequirement("SRV-LOG-2", func() {
	DescribeTable("logs a name with control characters as one line free of control characters",
		func(c fixtures.Name) {
			ev := loggedEvent(c)
			Expect(controlCharacters(ev.GetLogLine())).To(BeEmpty(),
				"the server logged the name's %v raw in the log line %+q; it must escape them so that the line stays one line free of control characters (%s)",
				controlCharacters(ev.GetLogLine()), ev.GetLogLine(), c.Why)
			expectLoggedAsIs(ev)
		},
		fixtureEntries(fixtures.ControlNames(), func(c fixtures.Name) string { return c.ID }),
	)

	DescribeTable("logs every character that is not a control character as it is",
		func(c fixtures.Name) {
			ev := loggedEvent(c)
			Expect(controlCharacters(ev.GetLogLine())).To(BeEmpty(),
				"the server logged %v raw in the log line %+q; it must be free of control characters", controlCharacters(ev.GetLogLine()), ev.GetLogLine())
			expectLoggedAsIs(ev)
		},
		fixtureEntries(namesToLog(), func(c fixtures.Name) string { return c.ID }),
	)
})

// loggedEvent sends c as a name and returns the server's event with its log
// line. A missing line is SRV-LOG-1's concern; these specs check what a
// line says.
func loggedEvent(c fixtures.Name) *contract.ConnectionEvent {
	GinkgoHelper()
	server := StartServer(untimedIdle())
	conn := exchangeForEvent(server, c.Bytes)
	return server.EventFor(conn, 0)
}

// namesToLog returns the names of names.json that have characters to log.
func namesToLog() []fixtures.Name {
	var out []fixtures.Name
	for _, n := range fixtures.Names() {
		if n.Name != "" {
			out = append(out, n)
		}
	}
	return out
}

// expectLoggedAsIs checks that every run of characters of the decoded name
// between control characters appears in the log line unchanged, in order:
// only control characters may be escaped.
func expectLoggedAsIs(ev *contract.ConnectionEvent) {
	GinkgoHelper()
	line := ev.GetLogLine()
	if line == "" {
		return
	}
	rest := line
	for _, run := range strings.FieldsFunc(ev.GetName(), isControl) {
		i := strings.Index(rest, run)
		Expect(i).NotTo(BeNumerically("<", 0),
			"the server changed %+q of the name %+q in the log line %+q; it must log it as it is (only control characters, U+2028 and U+2029 may be escaped)",
			run, ev.GetName(), line)
		rest = rest[i+len(run):]
	}
}

// controlCharacters returns the characters in s that SRV-LOG-2 has escaped:
// the control characters U+0000 to U+001F and U+007F to U+009F, and the line
// and paragraph separators U+2028 and U+2029.
func controlCharacters(s string) []string {
	var out []string
	for _, r := range s {
		if isControl(r) {
			out = append(out, fmt.Sprintf("U+%04X", r))
		}
	}
	return out
}

func isControl(r rune) bool { return contract.EscapedInLog(r) }
