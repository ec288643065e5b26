package alt

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/greetspec/greetspec/core/contract"
)

// BytewiseClient is a second correct client, built unlike the reference
// one so that the client specs are seen to accept more than one design: it
// writes the name in small pieces, reads the reply one byte at a time in
// short deadline slices cut from one overall deadline, decodes the reply
// incrementally while it arrives, and classifies failures by errno.
type BytewiseClient struct{}

// Tuning of BytewiseClient.
const (
	// bytewisePiece is how many name bytes go into one write.
	bytewisePiece = 7
	// bytewiseSlice bounds one read, so that a cancelled request is noticed
	// without waiting for the overall deadline.
	bytewiseSlice = 100 * time.Millisecond
	// bytewiseDefaultTimeout bounds an exchange when the host passes none.
	bytewiseDefaultTimeout = 10 * time.Second
)

// Describe names the implementation.
func (BytewiseClient) Describe() *contract.DescribeResponse {
	return &contract.DescribeResponse{Name: "greetspec alternative client (bytewise)"}
}

// Greet runs one exchange with the server at req's address.
func (BytewiseClient) Greet(ctx context.Context, req *contract.GreetRequest) (*contract.GreetResponse, error) {
	name := []byte(req.GetName())
	if len(name) > contract.MaxNameBytes {
		return &contract.GreetResponse{ErrorClass: contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG,
			Error: "the name's UTF-8 encoding is longer than 1024 bytes; nothing sent"}, nil
	}
	timeout := time.Duration(req.GetTimeoutMs()) * time.Millisecond
	if timeout <= 0 {
		timeout = bytewiseDefaultTimeout
	}
	deadline := time.Now().Add(timeout)
	x := &exchange{ctx: ctx, deadline: deadline}

	conn, err := (&net.Dialer{Deadline: deadline}).DialContext(ctx, "tcp", req.GetAddress())
	if err != nil {
		return x.fail("connect", err), nil
	}
	tcp := conn.(*net.TCPConn)
	defer tcp.Close()
	x.conn = tcp

	if err := x.sendName(name); err != nil {
		return x.fail("send", err), nil
	}
	if err := x.readReply(); err != nil {
		return x.fail("read", err), nil
	}
	if len(x.reply) == 0 {
		return x.respond(contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY, "the server closed without a reply byte"), nil
	}
	return x.respond(contract.ErrorClass_ERROR_CLASS_NONE, ""), nil
}

// exchange is the state of one Greet call.
type exchange struct {
	ctx      context.Context
	deadline time.Time
	conn     *net.TCPConn
	reply    []byte
	shown    streamDecoder
}

// sendName writes the name in small pieces, each as its own segment, then
// half-closes (CLI-SEND-2).
func (x *exchange) sendName(name []byte) error {
	_ = x.conn.SetNoDelay(true)
	if err := x.conn.SetWriteDeadline(x.deadline); err != nil {
		return err
	}
	for len(name) > 0 {
		n := min(bytewisePiece, len(name))
		if _, err := x.conn.Write(name[:n]); err != nil {
			return err
		}
		name = name[n:]
	}
	return x.conn.CloseWrite()
}

// readReply reads one byte at a time until end of stream or 1024 bytes.
func (x *exchange) readReply() error {
	var b [1]byte
	for len(x.reply) < contract.MaxNameBytes {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		if !time.Now().Before(x.deadline) {
			return errTimedOut
		}
		slice := time.Now().Add(bytewiseSlice)
		if slice.After(x.deadline) {
			slice = x.deadline
		}
		if err := x.conn.SetReadDeadline(slice); err != nil {
			return err
		}
		n, err := x.conn.Read(b[:])
		if n == 1 {
			x.reply = append(x.reply, b[0])
			x.shown.feed(b[0])
		}
		var ne net.Error
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &ne) && ne.Timeout():
			// The slice ended; the loop checks the overall deadline.
		default:
			return err
		}
	}
	return nil
}

// errTimedOut marks the overall deadline passing between reads.
var errTimedOut = errors.New("timed out")

// fail classifies err from step and builds the response with the bytes so far.
func (x *exchange) fail(step string, err error) *contract.GreetResponse {
	class := contract.ErrorClass_ERROR_CLASS_OTHER
	var errno syscall.Errno
	var ne net.Error
	switch {
	case errors.As(err, &errno) && errno == syscall.ECONNREFUSED:
		class = contract.ErrorClass_ERROR_CLASS_REFUSED
	case errors.As(err, &errno) && (errno == syscall.ECONNRESET || errno == syscall.EPIPE || errno == syscall.ECONNABORTED):
		class = contract.ErrorClass_ERROR_CLASS_RESET
	case errors.Is(err, errTimedOut), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		class = contract.ErrorClass_ERROR_CLASS_TIMEOUT
	}
	return x.respond(class, step+": "+err.Error())
}

// respond builds the response from the bytes received so far.
func (x *exchange) respond(class contract.ErrorClass, msg string) *contract.GreetResponse {
	return &contract.GreetResponse{Reply: x.reply, Shown: x.shown.finish(), ErrorClass: class, Error: msg}
}

// streamDecoder decodes UTF-8 one byte at a time with one U+FFFD per
// maximal subpart of an invalid sequence: the WHATWG UTF-8 decoder's
// algorithm, written independently of contract.DecodeUTF8.
type streamDecoder struct {
	out         strings.Builder
	cp          rune
	needed      int  // continuation bytes still expected
	lower, uppr byte // allowed range of the next continuation byte
}

// feed decodes one more byte.
func (d *streamDecoder) feed(b byte) {
	if d.needed == 0 {
		d.lower, d.uppr = 0x80, 0xBF
		switch {
		case b < 0x80:
			d.out.WriteByte(b)
		case b >= 0xC2 && b <= 0xDF:
			d.needed, d.cp = 1, rune(b&0x1F)
		case b >= 0xE0 && b <= 0xEF:
			if b == 0xE0 {
				d.lower = 0xA0
			} else if b == 0xED {
				d.uppr = 0x9F
			}
			d.needed, d.cp = 2, rune(b&0x0F)
		case b >= 0xF0 && b <= 0xF4:
			if b == 0xF0 {
				d.lower = 0x90
			} else if b == 0xF4 {
				d.uppr = 0x8F
			}
			d.needed, d.cp = 3, rune(b&0x07)
		default:
			d.out.WriteRune(utf8.RuneError)
		}
		return
	}
	if b < d.lower || b > d.uppr {
		// The sequence so far is one maximal subpart; b starts afresh.
		d.needed = 0
		d.out.WriteRune(utf8.RuneError)
		d.feed(b)
		return
	}
	d.lower, d.uppr = 0x80, 0xBF
	d.cp = d.cp<<6 | rune(b&0x3F)
	d.needed--
	if d.needed == 0 {
		d.out.WriteRune(d.cp)
	}
}

// finish returns the text so far, with an unfinished sequence at the end
// shown as one U+FFFD.
func (d *streamDecoder) finish() string {
	if d.needed > 0 {
		return d.out.String() + string(utf8.RuneError)
	}
	return d.out.String()
}
