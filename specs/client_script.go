package specs

import (
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
// server is expected to leave it waiting (CLI-TIMEOUT-1). It is longer than
// the probe's own wait for the name (T), so that even a client that never
// half-closes has its reply bytes before it gives up.
func silentServerTimeout() time.Duration { return 2 * Settings.IdleTimeout }

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

// receiveName reads what the client sends as its name until it ends its
// stream, or for at most T, as a conforming server would wait for a client
// that never half-closes (max <= 0: no byte limit, to catch bytes added
// after the name). Only CLI-SEND-2 insists on the half-close.
func receiveName(conn *wire.Conn, max int) []byte {
	return conn.ReadUntilEnd(max, Settings.IdleTimeout).Data
}

// exchangeName runs an exchange in which the probe only observes the name:
// it returns the bytes the client sent, after greeting the client and
// letting it return.
func exchangeName(name string) []byte {
	GinkgoHelper()
	probe := NewProbeServer()
	pending := StartGreet(probe.Addr(), name, Settings.WaitTimeout)
	conn := probe.Accept()
	got := receiveName(conn, 0)
	_ = conn.Send([]byte(contract.Greeting), Settings.WaitTimeout)
	_ = conn.Close()
	pending.Wait(Settings.WaitTimeout)
	return got
}

// playReply greets the probe with the client under test while the probe
// plays the server scripted by r: it reads the name as a conforming server
// would (end of stream, 1024 bytes, or T), writes r's pieces with r's gap,
// pauses r's gap again and closes as r says ("none": it holds the connection
// until the client returns). It returns the client's response.
func playReply(r fixtures.Reply, timeout time.Duration) *contract.GreetResponse {
	GinkgoHelper()
	probe := NewProbeServer()
	pending := StartGreet(probe.Addr(), plainName(), timeout)
	conn := probe.Accept()
	receiveName(conn, contract.MaxNameBytes)
	// A failed write (a client that left early) is in the transcript; the
	// client's response is what the spec judges.
	_ = conn.SendPieces(r.Pieces, r.Gap, Settings.WaitTimeout)
	if r.Close != fixtures.CloseNone {
		pause(r.Gap)
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
	Eventually(pending.done).WithTimeout(within).Should(BeClosed(),
		"the client was given a timeout of %v and must have returned %v later", timeout, within)
	return pending.Wait(0)
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

// expectReply checks a response against a scripted reply's expectations.
func expectReply(resp *contract.GreetResponse, r fixtures.Reply) {
	GinkgoHelper()
	wantClass := "ERROR_CLASS_" + r.ExpectClass
	Expect(resp.GetErrorClass().String()).To(Equal(wantClass),
		"%s: the client reported %s (it said %q); it must report %s", r.Why, resp.GetErrorClass(), resp.GetError(), wantClass)
	Expect(string(resp.GetReply())).To(Equal(string(r.ExpectReply)),
		"%s: the client returned %d reply bytes %q; it must return exactly the %d reply bytes %q",
		r.Why, len(resp.GetReply()), shortBytes(resp.GetReply()), len(r.ExpectReply), shortBytes(r.ExpectReply))
	Expect(resp.GetShown()).To(Equal(r.ExpectShown),
		"%s: the client showed the reply as %+q; it must show it decoded with one U+FFFD per maximal subpart, %+q",
		r.Why, resp.GetShown(), r.ExpectShown)
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
