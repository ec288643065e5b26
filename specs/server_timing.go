package specs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Verdicts that depend on the probe's own timing against the server's T.
//
// A server may end a name after T of client silence (SRV-NAME-3), so "the
// server replied (or closed) before the name had ended" holds only if the
// probe was silent for less than T before the server acted. The probe
// cannot choose when it runs: on a loaded machine its process may stall
// for longer than T between two writes, or between its last write and the
// read that sees the reply, and a correct server then rightly ends the
// name. So such a verdict is taken only when the transcript proves it:
// every pause of the probe before the server's action, measured from the
// start of a write (the peer cannot have the bytes earlier) to the end of
// the next write or to the record of the read that saw the action (the
// action cannot have come later), is less than T. Reading late only
// lengthens the measured pause, so a pause measured under T is a proof.
// An observation whose measured pause is T or more is void: the case is
// tried again on a fresh connection, at most probeAttempts times, and if
// every attempt is void the spec is NOT-OBSERVABLE, never FAIL nor PASS.

// probeAttempts bounds the attempts of a case whose observations were void
// because the probe itself paused for T or more.
const probeAttempts = 3

// probePause returns the longest pause of the probe, on conn's transcript
// clock, before the server's action recorded at at: the longest span from
// the connection's start to the end of the first write, from the start of
// one write to the end of the next, and from the start of the last write
// before at (or the connection's start, if none) to at.
func probePause(conn *wire.Conn, at time.Duration) time.Duration {
	// The connection's start (the dial's) stands for a first write: a
	// server counts silence from its accept at the earliest.
	var longest, last time.Duration // last: start of the latest write
	for _, r := range conn.Transcript().Records() {
		if r.At > at {
			break
		}
		if r.Kind != "send" || len(r.Data) == 0 {
			continue
		}
		longest = max(longest, r.At-last)
		last = r.Began
	}
	return max(longest, at-last)
}

// peerActedAt returns when, on conn's transcript clock, the server's first
// action was seen: the first received bytes, or the first end of stream or
// reset, or failing those now (the action came before now).
func peerActedAt(conn *wire.Conn) time.Duration {
	for _, r := range conn.Transcript().Records() {
		if r.Kind == "recv" {
			return r.At
		}
	}
	conn.Transcript().Note("the server's action seen by now")
	recs := conn.Transcript().Records()
	return recs[len(recs)-1].At
}

// earlyAction is what a probe saw the server do before the name had ended;
// its pause decides whether that proves anything.
type earlyAction struct {
	conn *wire.Conn
	// did says, cause first, what the server did, to be followed by
	// "before the name had ended" ("the server sent 22 bytes ...").
	did string
	// state says how far the name had got ("6 of 12 bytes sent").
	state string
	// void, if set, makes the observation void whatever the pause, and
	// says why.
	void string
}

// peerEarly turns the error of a probe's send or half-close into an
// earlyAction if the server caused it (it had replied, closed or reset),
// fails the spec for the harness's own errors, and returns nil for nil.
func peerEarly(conn *wire.Conn, err error, doing, state string) *earlyAction {
	GinkgoHelper()
	if err == nil {
		return nil
	}
	var pe *wire.PeerError
	if errors.As(err, &pe) {
		return &earlyAction{conn: conn, did: pe.PeerAction("the server"), state: state + ", while the probe client was " + doing}
	}
	Fail(fmt.Sprintf("%s: %v", doing, err))
	return nil
}

// attemptTimed runs one case of a spec whose verdict "the server acted
// before the name had ended" depends on the probe's timing against the
// server's T. attempt dials its own connection and returns the early
// action it saw, or nil if the server waited as it must (attempt then made
// the rest of its checks itself). An early action seen less than T after
// the probe's last byte fails the spec with rule; one seen T or more after
// is void and the case is tried again, up to probeAttempts times; if all
// are void the spec is NOT-OBSERVABLE.
func attemptTimed(server *ServerUnderTest, rule string, attempt func() *earlyAction) {
	GinkgoHelper()
	var pauses []string
	for range probeAttempts {
		ea := attempt()
		if ea == nil {
			if len(pauses) > 0 {
				// Judged, after void attempts: said with the spec's output
				// (shown with -v and in the reports), so that a pass that
				// took retries is not mistaken for a quiet one.
				fmt.Fprintf(GinkgoWriter, "judged on attempt %d of at most %d: the earlier attempts were void (%s)\n", len(pauses)+1, probeAttempts, strings.Join(pauses, "; "))
			}
			return
		}
		if ea.void != "" {
			ea.conn.Transcript().Note("void observation: %s", ea.void)
			_ = ea.conn.Abort()
			pauses = append(pauses, ea.void)
			continue
		}
		at := peerActedAt(ea.conn)
		pause := probePause(ea.conn, at)
		if pause < server.Idle {
			since := "the probe's last byte was sent"
			if !sentBefore(ea.conn, at) {
				since = "the connection opened"
			}
			Fail(fmt.Sprintf("%s before the name had ended (%s): seen %v after %s, less than T (%v; the probe's longest pause %v); %s\n%s",
				ea.did, ea.state, (at - lastSend(ea.conn, at).Began).Round(time.Microsecond), since, server.Idle, pause.Round(time.Microsecond), rule, ea.conn.Transcript()))
		}
		ea.conn.Transcript().Note("void observation: the probe paused %v, not less than T = %v, so the server may have ended the name by silence", pause.Round(time.Microsecond), server.Idle)
		_ = ea.conn.Abort()
		pauses = append(pauses, fmt.Sprintf("the probe paused %v", pause.Round(time.Millisecond)))
	}
	Skip(fmt.Sprintf("%sgreetspec's own probe was delayed past T (%v) by the machine's load on every one of %d attempts (%s), so when the server acted could not be judged against T",
		NotObservablePrefix, server.Idle, probeAttempts, strings.Join(pauses, "; ")))
}

// lastSend returns conn's last write with bytes that returned by upTo
// (its Began is when the write started, its At when it returned), or a
// zero record if there was none.
func lastSend(conn *wire.Conn, upTo time.Duration) wire.Record {
	var last wire.Record
	for _, r := range conn.Transcript().Records() {
		if r.At > upTo {
			break
		}
		if r.Kind == "send" && len(r.Data) > 0 {
			last = r
		}
	}
	return last
}

// soFar, as lastSend's upTo, takes every record so far.
const soFar = time.Duration(math.MaxInt64)

// nameEndAt returns when, on conn's transcript clock, the probe's last
// write or half-close so far returned: the end of the name it sent.
func nameEndAt(conn *wire.Conn) time.Duration {
	var end time.Duration
	for _, r := range conn.Transcript().Records() {
		if (r.Kind == "send" && len(r.Data) > 0) || r.Kind == "close-write" {
			end = r.At
		}
	}
	return end
}

// greetedWithin reads a reply of at least want bytes (at most the
// greeting's length is read) that must come within window
// of the end of the name (the probe's last write or half-close), and fails
// with why, stating within, if none came. The window is counted from the
// name's end, not from the read, so a probe delayed before it reads is
// not lenient. A reply seen before the window's end passes; nothing
// there when the probe looks at or after the window's end fails; but a
// reply already waiting when a delayed probe first looks after the
// window's end may have come in time or not, so the observation is void
// (returned for attemptTimed to retry).
func greetedWithin(conn *wire.Conn, want int, window time.Duration, within, why string) *earlyAction {
	GinkgoHelper()
	deadline := nameEndAt(conn) + window
	late := conn.Transcript().Now() - deadline
	if late >= 0 {
		if unread, ended := conn.Waiting(); unread > 0 || ended {
			return &earlyAction{conn: conn, void: fmt.Sprintf("the probe first looked for the reply %v after its window (%v from the name's end) had closed, and found it waiting", late.Round(time.Millisecond), window)}
		}
	}
	res := conn.ReadUntilEnd(len(contract.Greeting), max(-late, 0))
	if len(res.Data) < want && res.End == wire.EndTimeout {
		over := conn.Transcript().Now() - deadline
		if unread, ended := conn.Waiting(); unread > 0 || ended {
			// The reply may have come in time while the probe was stalled.
			return &earlyAction{conn: conn, void: fmt.Sprintf("the probe's read ended %v after its window (%v from the name's end) and the reply was then waiting", over.Round(time.Millisecond), window)}
		}
	}
	Expect(len(res.Data)).To(BeNumerically(">=", want), "%s, counted from the end of the name; %s (%s)", res.Did("the server"), why, within)
	return nil
}

// ProbeStallEnv names a test hook: a duration in it makes the probe of the
// wire-timed server specs pause that long after the bytes it sends before
// it looks for a premature reply, as a machine's load may stall it, so
// that tests reproduce a stalled probe deterministically; "DURATION*N"
// stalls only the first N attempts of the process. Unset, the probe does
// not pause.
const ProbeStallEnv = "GREETSPEC_TEST_PROBE_STALL"

// probeStall is the pause ProbeStallEnv asks for, and how many attempts it
// stalls (negative: all).
var probeStall, probeStalls = func() (time.Duration, int64) {
	v, count, limited := strings.Cut(os.Getenv(ProbeStallEnv), "*")
	d, _ := time.ParseDuration(v)
	n := int64(-1)
	if limited {
		if c, err := strconv.ParseInt(count, 10, 64); err == nil {
			n = c
		}
	}
	return max(d, 0), n
}()

// stalled counts the attempts stallProbe has stalled.
var stalled atomic.Int64

// stallProbe pauses the probe as ProbeStallEnv asks, if it does.
func stallProbe() {
	if probeStall > 0 && (probeStalls < 0 || stalled.Add(1) <= probeStalls) {
		time.Sleep(probeStall)
	}
}

// sentBefore reports whether conn sent any byte before at.
func sentBefore(conn *wire.Conn, at time.Duration) bool {
	for _, r := range conn.Transcript().Records() {
		if r.At <= at && r.Kind == "send" && len(r.Data) > 0 {
			return true
		}
	}
	return false
}

// quietDid says what a read that should have seen nothing saw, to be
// followed by "before the name had ended": the bytes the server sent, else
// how it ended the connection.
func quietDid(res wire.Result) string {
	if len(res.Data) > 0 {
		return fmt.Sprintf("the server sent %d bytes %q", len(res.Data), shortBytes(res.Data))
	}
	return res.Did("the server")
}
