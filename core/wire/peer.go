package wire

import (
	"errors"
	"fmt"
	"strconv"
	"syscall"
)

// PeerError is the failure of a send or a half-close that the peer caused:
// it had already replied, closed or reset the connection when this side
// still had bytes or its end of stream to send. Its message says first what
// the peer did, then which local call failed and how, so a failure report
// blames the implementation's action, not the harness's syscall.
//
// Send, SendPieces, SendPiecesWhileOpen and CloseWrite return a *PeerError
// when the kernel reports the connection reset (ECONNRESET, EPIPE,
// ENOTCONN) without this side having closed it, and SendPiecesWhileOpen
// also when the peer ended its stream before all pieces were written.
type PeerError struct {
	// Op is what this side was doing: "send", "send pieces" or
	// "close-write".
	Op string
	// Received holds every byte the peer had sent by then, read or still
	// waiting to be read.
	Received []byte
	// Closed says the peer had ended its sending side (FIN) by then.
	Closed bool
	// Reset says the connection had been reset (RST).
	Reset bool
	// Sent and Total count the bytes of this side's pending data that went
	// out; both are 0 for a half-close.
	Sent, Total int
	// Err is the local error, nil when SendPiecesWhileOpen stopped on its
	// own because the peer had ended its stream.
	Err error
}

// PeerAction says what the peer did, naming it peer ("the server"), for
// example `the server replied (22 bytes "welcome to Asif server") and reset
// the connection`.
func (e *PeerError) PeerAction(peer string) string {
	var did []string
	if len(e.Received) > 0 {
		shown := e.Received
		if len(shown) > renderLimit {
			shown = shown[:renderLimit]
		}
		s := fmt.Sprintf("replied (%d bytes %s", len(e.Received), strconv.Quote(string(shown)))
		if len(shown) < len(e.Received) {
			s += "..."
		}
		did = append(did, s+")")
	}
	switch {
	case e.Closed && e.Reset:
		did = append(did, "closed", "reset the connection")
	case e.Closed:
		did = append(did, "closed the connection")
	case e.Reset:
		did = append(did, "reset the connection")
	}
	if len(did) == 0 {
		return peer + " ended the connection"
	}
	out := peer + " " + did[0]
	for i, d := range did[1:] {
		if i == len(did)-2 {
			out += " and " + d
		} else {
			out += ", " + d
		}
	}
	return out
}

// Describe renders the error as "<peer's action> before <before> (<local
// detail>)", for example Describe("the server", "the name had ended").
func (e *PeerError) Describe(peer, before string) string {
	return fmt.Sprintf("%s before %s (%s)", e.PeerAction(peer), before, e.localDetail())
}

func (e *PeerError) localDetail() string {
	var s string
	switch {
	case e.Op == "close-write":
		s = "the half-close failed"
	case e.Err == nil:
		s = fmt.Sprintf("sending stopped after %d of %d bytes", e.Sent, e.Total)
	default:
		s = fmt.Sprintf("%s failed after %d of %d bytes", e.Op, e.Sent, e.Total)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Error implements error.
func (e *PeerError) Error() string {
	return "wire: " + e.Describe("the peer", "this side had finished sending")
}

// Unwrap returns the local error, so errors.Is(err, syscall.EPIPE) still
// holds.
func (e *PeerError) Unwrap() error { return e.Err }

// peerCaused reports whether err from a write or a half-close means the
// peer reset the connection: ECONNRESET, EPIPE or ENOTCONN on a Conn this
// side has neither half-closed nor closed.
func (c *Conn) peerCaused(err error) bool {
	if c.wroteEOF.Load() || c.isClosed() {
		return false
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ENOTCONN)
}

func (c *Conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// peerError builds the PeerError for op, with every byte the peer sent:
// those already read (the transcript) and those still unread (peeked, left
// in place for later reads).
func (c *Conn) peerError(op string, sent, total int, err error) *PeerError {
	unread, state := c.peek()
	e := &PeerError{Op: op, Sent: sent, Total: total, Err: err,
		Received: append(c.t.Received(), unread...)}
	// A local error means a reset, after which the socket no longer shows
	// whether a FIN came first: only a FIN read earlier shows a close then.
	e.Reset = err != nil || state == EndReset
	e.Closed = c.sawEOF() || (err == nil && state == EndEOF)
	detail := e.PeerAction("peer") + fmt.Sprintf(" before this side's %s had finished", op)
	if len(unread) > 0 {
		detail += fmt.Sprintf(" (%d bytes unread: %s)", len(unread), renderData(unread))
	}
	c.t.add("note", nil, detail)
	return e
}

// sawEOF reports whether a read on the Conn has already met end of stream.
func (c *Conn) sawEOF() bool {
	for _, r := range c.t.Records() {
		if r.Kind == "end" && len(r.Detail) >= 3 && r.Detail[:3] == "eof" {
			return true
		}
	}
	return false
}

// PeerEnded reports, without waiting or consuming anything, whether the
// peer has ended its stream (FIN) or reset the connection.
func (c *Conn) PeerEnded() bool {
	_, state := c.peek()
	return state == EndEOF || state == EndReset
}

// Waiting reports, without waiting or consuming anything, how many bytes
// have arrived and not been read, and whether the peer has ended its
// stream (FIN) or reset the connection. A reader that looks after its
// deadline learns from it whether nothing had arrived by then.
func (c *Conn) Waiting() (unread int, ended bool) {
	b, state := c.peek()
	return len(b), state == EndEOF || state == EndReset
}
