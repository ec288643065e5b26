package faulty

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/greetspec/greetspec/core/contract"
)

// ClientFaults are the switches of the faulty client. The zero value is a
// correct client, built like the reference one.
type ClientFaults struct {
	// Latin1 encodes the name as ISO-8859-1 ('?' for what it cannot hold).
	Latin1 bool
	// AppendNewline sends "\n" after the name.
	AppendNewline bool
	// BOM sends a UTF-8 byte order mark before the name.
	BOM bool
	// NoHalfClose does not half-close after the name; it waits for the
	// reply with its write side open.
	NoHalfClose bool
	// SendLong sends names longer than 1024 bytes instead of refusing them.
	SendLong bool
	// TruncateLong cuts names longer than 1024 bytes to 1024 and sends them.
	TruncateLong bool
	// CountRunes applies the 1024 limit to characters instead of bytes.
	CountRunes bool
	// SingleRead keeps only the bytes of the first read as the reply. It
	// still reads on to the usual end, so the outcome is classified as a
	// correct client would classify it.
	SingleRead bool
	// ReadLimit replaces the 1024-byte reply limit when non-zero.
	ReadLimit int
	// NoReplyLimit reads the reply until end of stream, however long.
	NoReplyLimit bool
	// WaitCloseAfterLimit keeps waiting for the server to close after 1024
	// reply bytes have arrived (discarding what follows) before returning.
	WaitCloseAfterLimit bool
	// StrictUTF8 fails with ERROR_CLASS_OTHER on a reply that is not valid UTF-8.
	StrictUTF8 bool
	// GoDecoding shows the reply with Go's per-byte replacement.
	GoDecoding bool
	// IgnoreTimeout waits for the reply without any deadline.
	IgnoreTimeout bool
	// EmptyIsSuccess reports an empty reply as success instead of CLOSED_EARLY.
	EmptyIsSuccess bool
	// ResetAsEOF reports a reset as a normal end of reply.
	ResetAsEOF bool
	// RefusedAsOther reports a refused connection as ERROR_CLASS_OTHER.
	RefusedAsOther bool
	// ResetDropsReply reports a reset without the bytes received before it.
	ResetDropsReply bool
	// TimeoutDropsReply reports a timeout without the bytes received before it.
	TimeoutDropsReply bool
	// ComposeAccents sends e + U+0301, e + U+0308 and a + U+0300 as the
	// precomposed é, ë and à: a partial Unicode normalisation (NFC).
	ComposeAccents bool
	// StripFormat drops the format characters (general category Cf: zero
	// width and bidirectional characters, U+00AD, U+FEFF) from the name.
	StripFormat bool
	// ReplyAsShown returns the reply decoded and re-encoded (U+FFFD in place
	// of invalid bytes) instead of its raw bytes.
	ReplyAsShown bool
}

// Client is the configurable faulty client.
type Client struct {
	Faults ClientFaults
	Name   string
}

// Describe names the fault.
func (c *Client) Describe() *contract.DescribeResponse {
	return &contract.DescribeResponse{Name: "faulty client: " + c.Name}
}

// Greet runs one exchange with the configured faults.
func (c *Client) Greet(ctx context.Context, req *contract.GreetRequest) (*contract.GreetResponse, error) {
	f := c.Faults
	text := req.GetName()
	if f.ComposeAccents {
		text = strings.NewReplacer("e\u0301", "\u00e9", "e\u0308", "\u00eb", "a\u0300", "\u00e0").Replace(text)
	}
	if f.StripFormat {
		text = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Cf, r) {
				return -1
			}
			return r
		}, text)
	}
	name := c.encode(text)
	// The limit is checked on the UTF-8 encoding, as a correct client does,
	// so that the encoding faults stay encoding faults.
	size := len(text)
	if f.CountRunes {
		size = utf8.RuneCountInString(text)
	}
	if size > contract.MaxNameBytes {
		switch {
		case f.TruncateLong:
			name = name[:contract.MaxNameBytes]
		case f.SendLong:
		default:
			return fail(contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG, "name too long", nil), nil
		}
	}
	timeout := time.Duration(req.GetTimeoutMs()) * time.Millisecond
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if f.IgnoreTimeout {
		timeout = time.Hour // still bounded, so the plugin process cannot hang forever
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", req.GetAddress())
	if err != nil {
		return fail(c.classify(err), err.Error(), nil), nil
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(name); err != nil {
		return fail(c.classify(err), err.Error(), nil), nil
	}
	if !f.NoHalfClose {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	reply, err := c.readReply(conn)
	if err != nil && !(f.ResetAsEOF && c.classify(err) == contract.ErrorClass_ERROR_CLASS_RESET) {
		class := c.classify(err)
		if (f.ResetDropsReply && class == contract.ErrorClass_ERROR_CLASS_RESET) ||
			(f.TimeoutDropsReply && class == contract.ErrorClass_ERROR_CLASS_TIMEOUT) {
			reply = nil
		}
		return fail(class, err.Error(), reply), nil
	}
	if len(reply) == 0 && !f.EmptyIsSuccess {
		return fail(contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY, "closed without reply", nil), nil
	}
	if f.StrictUTF8 && !validUTF8(reply) {
		return fail(contract.ErrorClass_ERROR_CLASS_OTHER, "reply is not valid UTF-8", nil), nil
	}
	if f.ReplyAsShown {
		return &contract.GreetResponse{Reply: []byte(c.show(reply)), Shown: c.show(reply)}, nil
	}
	return &contract.GreetResponse{Reply: reply, Shown: c.show(reply)}, nil
}

func (c *Client) readReply(conn net.Conn) ([]byte, error) {
	f := c.Faults
	limit := int64(contract.MaxNameBytes)
	if f.ReadLimit > 0 {
		limit = int64(f.ReadLimit)
	}
	if f.NoReplyLimit {
		limit = 1 << 30
	}
	if f.SingleRead {
		buf := make([]byte, limit)
		n, err := conn.Read(buf)
		if err == nil && int64(n) < limit {
			_, err = io.Copy(io.Discard, io.LimitReader(conn, limit-int64(n)))
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return buf[:n], err
	}
	reply, err := io.ReadAll(io.LimitReader(conn, limit))
	if err == nil && f.WaitCloseAfterLimit && int64(len(reply)) == limit {
		_, err = io.Copy(io.Discard, conn)
	}
	return reply, err
}

func (c *Client) encode(name string) []byte {
	var out []byte
	if c.Faults.BOM {
		out = append(out, 0xEF, 0xBB, 0xBF)
	}
	if c.Faults.Latin1 {
		for _, r := range name {
			if r > 0xFF {
				r = '?'
			}
			out = append(out, byte(r))
		}
	} else {
		out = append(out, name...)
	}
	if c.Faults.AppendNewline {
		out = append(out, '\n')
	}
	return out
}

func (c *Client) show(reply []byte) string {
	if c.Faults.GoDecoding {
		return string([]rune(string(reply)))
	}
	return contract.DecodeUTF8(reply)
}

func (c *Client) classify(err error) contract.ErrorClass {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		if c.Faults.RefusedAsOther {
			return contract.ErrorClass_ERROR_CLASS_OTHER
		}
		return contract.ErrorClass_ERROR_CLASS_REFUSED
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return contract.ErrorClass_ERROR_CLASS_RESET
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return contract.ErrorClass_ERROR_CLASS_TIMEOUT
	}
	return contract.ErrorClass_ERROR_CLASS_OTHER
}

func fail(class contract.ErrorClass, msg string, reply []byte) *contract.GreetResponse {
	return &contract.GreetResponse{Reply: reply, Shown: contract.DecodeUTF8(reply), ErrorClass: class, Error: msg}
}
