package wire

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// End says how a read on a connection finished.
type End int

// The ways a read can finish.
const (
	// EndNone: the connection is still open; the read stopped because it had
	// received as many bytes as it was allowed to.
	EndNone End = iota
	// EndEOF: the peer closed its sending side in order (FIN).
	EndEOF
	// EndReset: the connection was reset (RST): ECONNRESET or EPIPE.
	EndReset
	// EndTimeout: the deadline passed with the connection still open.
	EndTimeout
	// EndError: any other failure, including use of a closed Conn.
	EndError
)

// String names the end as it appears in transcripts.
func (e End) String() string {
	switch e {
	case EndNone:
		return "open"
	case EndEOF:
		return "eof"
	case EndReset:
		return "reset"
	case EndTimeout:
		return "timeout"
	case EndError:
		return "error"
	}
	return "unknown"
}

// Classify maps an error from a read or write to an End: nil is EndNone,
// io.EOF is EndEOF, ECONNRESET and EPIPE are EndReset, a deadline is
// EndTimeout, and anything else is EndError.
func Classify(err error) End {
	var ne net.Error
	switch {
	case err == nil:
		return EndNone
	case errors.Is(err, io.EOF):
		return EndEOF
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return EndReset
	case errors.As(err, &ne) && ne.Timeout():
		return EndTimeout
	}
	return EndError
}
