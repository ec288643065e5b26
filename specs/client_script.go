package specs

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The helpers of the client specs: the probe plays a server whose behaviour
// a fixture scripts, and the specs compare what the client under test
// returns with what the fixture expects.

// silentServerTimeout is the timeout given to the client when the scripted
// server is expected to leave it waiting (CLI-TIMEOUT-1). It is well over
// the probe's own wait for the name (T), so that even a client that never
// half-closes has its reply bytes before it gives up.
//
// It is 4 T: the probe ends the name of a client that never half-closes T
// after its last byte (receiveName), and such a client must still get the
// reply before its own timeout, which also counts its start-up and its
// connection, with 3 T to spare for a loaded machine's scheduling delays.
func silentServerTimeout() time.Duration { return 4 * Settings.IdleTimeout }

// plainName is the name the client specs send when the name does not
// matter: the first non-empty ASCII name of names.json.
func plainName() string {
	for _, n := range fixtures.Names() {
		if len(n.Classes) == 1 && n.Classes[0] == 1 {
			return n.Name
		}
	}
	panic("specs: names.json has no ASCII name")
}

// receiveName reads what the client of g sends as its name until it ends
// its stream, max bytes have arrived (max <= 0: no byte limit, to catch
// bytes added after the name), or T passes without a new byte once the
// client has sent something, as a conforming server ends the name of a
// client that never half-closes. The first byte or end of stream should
// come: it is waited for up to the client's own timeout, so that a program
// slowed by a loaded machine is not cut off. Only CLI-SEND-2 insists on the
// half-close.
func receiveName(conn *wire.Conn, g *PendingGreet, max int) []byte {
	// T after the last byte, not a window of T that the name happened to
	// start in: a client that never half-closes costs T, not up to 2T.
	return conn.ReadUntilQuiet(max, Settings.IdleTimeout, g.Timeout+Settings.IdleTimeout).Data
}

// exchangeName runs an exchange in which the probe only observes the name:
// it returns the bytes the client sent, after greeting the client and
// letting it return.
func exchangeName(name string) []byte {
	GinkgoHelper()
	probe := NewProbeServer()
	pending := StartGreet(probe.Addr(), name, Settings.WaitTimeout)
	conn := probe.Accept(pending)
	got := receiveName(conn, pending, 0)
	_ = conn.Send([]byte(contract.Greeting), Settings.WaitTimeout)
	_ = conn.Close()
	// Only the name is judged here; the wait lets the client finish.
	pending.Wait(pending.Timeout + Settings.WaitTimeout)
	return got
}

// playReply greets the probe with the client under test while the probe
// plays the server scripted by r: it reads the name as a conforming server
// would (end of stream, 1024 bytes, or T), writes r's pieces with r's gap
// (scaled by FixturePause), pauses that gap again and closes as r says
// ("none": it holds the connection until the client returns). It returns
// the finished Greet.
func playReply(r fixtures.Reply, timeout time.Duration) *PendingGreet {
	GinkgoHelper()
	probe := NewProbeServer()
	pending := StartGreet(probe.Addr(), plainName(), timeout)
	conn := probe.Accept(pending)
	receiveName(conn, pending, contract.MaxNameBytes)
	// A failed write (a client that left early) is in the transcript; the
	// client's response is what the spec judges.
	_ = conn.SendPieces(r.Pieces, FixturePause(r.Gap), Settings.WaitTimeout)
	if r.Close != fixtures.CloseNone {
		pause(FixturePause(r.Gap))
		if r.Close == fixtures.CloseReset {
			_ = conn.Abort()
		} else {
			_ = conn.Close()
		}
	}
	// Half of WaitTimeout past the client's own timeout: a client that
	// ignores its timeout is caught here, before the RPC deadline that
	// StartGreet sets at the full WaitTimeout.
	within := timeout + Settings.WaitTimeout/2
	if pending.Channel.Text {
		// A wrapped program is killed by the exec adapter when it overruns
		// its timeout, later by the time it waited for a CPU, at the latest
		// a second before the call's deadline, and the kill is reported
		// (expectReply fails it): wait for that report.
		within = timeout + Settings.WaitTimeout
	}
	expectClosed(pending.done, within,
		"the client was given a timeout of %v and must have returned %v later", timeout, within)
	pending.Wait(0)
	return pending
}

// pause is the scripted server's pause before its close action, the same
// pause SendPieces makes between pieces. It waits for no outcome.
func pause(d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	<-timer.C
}

// expectReply checks a finished Greet against a scripted reply's
// expectations. A native client is judged on the raw bytes it returns and
// on how it shows them. A client-text program can only print text: its
// printed reply, decoded, must be the decoding of the expected bytes (for a
// reply over 1024 bytes, of its first 1024), which also judges CLI-UTF8-1
// on the text it shows. Bytes received before a failure are judged only if
// the program printed some: one that printed none still has its error class
// judged, and the spec records that the bytes were not observable.
func expectReply(g *PendingGreet, r fixtures.Reply) {
	GinkgoHelper()
	resp := g.resp
	expectClass(g, "ERROR_CLASS_"+r.ExpectClass, r.Why)
	if g.Channel.Text {
		// The adapter kills a program that overruns its timeout by more
		// than a grace period and reports TIMEOUT with an error saying it
		// was killed: that program did not give up by itself.
		if strings.Contains(resp.GetError(), "was killed") {
			Fail(fmt.Sprintf("%s: the client program must give up by itself at the timeout it was given (%v), but it overran it and was killed: %s",
				r.Why, g.Timeout, resp.GetError()))
		}
		printed := resp.GetReply()
		if r.ExpectClass != "NONE" && len(r.ExpectReply) > 0 && len(printed) == 0 {
			AddReportEntry(PartialEntry, "bytes received before the failure are not observable: the program printed none")
			return
		}
		want := contract.DecodeUTF8(r.ExpectReply)
		Expect(contract.DecodeUTF8(printed)).To(Equal(want),
			"%s: the client program must print the %d reply bytes %q decoded with one U+FFFD per maximal subpart, %q; it printed %q "+
				"(a wrapped program's standard output is its reply: errors go to standard error)",
			r.Why, len(r.ExpectReply), r.ExpectReply, want, printed)
		return
	}
	Expect(string(resp.GetReply())).To(Equal(string(r.ExpectReply)),
		"%s: the client returned %d reply bytes %q; it must return exactly the %d reply bytes %q",
		r.Why, len(resp.GetReply()), shortBytes(resp.GetReply()), len(r.ExpectReply), shortBytes(r.ExpectReply))
	Expect(resp.GetShown()).To(Equal(r.ExpectShown),
		"%s: the client showed the reply as %+q; it must show it decoded with one U+FFFD per maximal subpart, %+q",
		r.Why, resp.GetShown(), r.ExpectShown)
}

// expectGreeting checks that a finished Greet succeeded with the greeting.
func expectGreeting(g *PendingGreet) {
	GinkgoHelper()
	expectReply(g, fixtures.Reply{
		ExpectReply: []byte(contract.Greeting), ExpectShown: contract.Greeting, ExpectClass: "NONE",
		Why: "the server sent the greeting and closed",
	})
}

// classWords gives, per error class, the words by which a client-text
// program's failure is recognised as that class (the first is suggested in
// failure messages).
var classWords = map[string]string{
	"ERROR_CLASS_NAME_TOO_LONG": `"too long" (or "too large", "exceeds", "longer than", "more than 1024")`,
	"ERROR_CLASS_REFUSED":       `"refused"`,
	"ERROR_CLASS_RESET":         `"reset"`,
	"ERROR_CLASS_TIMEOUT":       `"timed out" (or "timeout")`,
	"ERROR_CLASS_CLOSED_EARLY":  `"closed without a reply" (or "closed", "no reply", "eof", "empty reply")`,
}

// expectClass checks the error class a finished Greet reported. A
// client-text program has no error class of its own: the class is inferred
// from its exit status and words, so a mismatch says which words, or which
// --client-outcome mapping of its exit status, make its failure
// recognisable.
func expectClass(g *PendingGreet, want, why string) {
	GinkgoHelper()
	resp := g.resp
	got := resp.GetErrorClass().String()
	if got == want {
		return
	}
	hint := ""
	if g.Channel.Text {
		if words, ok := classWords[want]; ok {
			hint = fmt.Sprintf("; a wrapped program's failure is classified from its exit status and words: to be recognised as %s "+
				"it must exit non-zero and say %s on standard error, or its exit status must be mapped with --client-outcome %s=STATUS",
				want, words, strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(want, "ERROR_CLASS_"), "_", "-")))
		} else if want == "ERROR_CLASS_NONE" {
			hint = "; a wrapped program succeeds by exiting with status 0 after printing the reply on standard output"
		}
	}
	Fail(fmt.Sprintf("the client reported %s (it said %q); it must report %s here (%s)%s", got, resp.GetError(), want, why, hint))
}

// replyRequirement assigns each case of replies.json to the requirement its
// spec checks, so that every case is used exactly once: the expected error
// class first, then invalid UTF-8, then the shape of the reply.
func replyRequirement(r fixtures.Reply) string {
	switch {
	case r.ExpectClass == "TIMEOUT":
		return "CLI-TIMEOUT-1"
	case r.ExpectClass != "NONE":
		return "CLI-CLOSE-1"
	case !utf8.Valid(r.ExpectReply):
		return "CLI-UTF8-1"
	case len(r.Pieces) > 1:
		// Accumulating across reads, including a 1024-byte cut that falls
		// inside a later piece.
		return "CLI-REPLY-1"
	case totalLen(r.Pieces) >= contract.MaxNameBytes:
		return "CLI-REPLY-2"
	}
	return "CLI-REPLY-1"
}

// replyEntries returns one table entry per replies.json case of requirement
// id, described by the case's ID.
func replyEntries(id string) []TableEntry {
	var entries []TableEntry
	for _, r := range fixtures.Replies() {
		if replyRequirement(r) == id {
			entries = append(entries, Entry(r.ID, r))
		}
	}
	return entries
}

func totalLen(pieces [][]byte) int {
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	return n
}
