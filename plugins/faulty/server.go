package faulty

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/greetspec/greetspec/core/contract"
)

// ServerFaults are the switches of the faulty server. The zero value is a
// correct server, built like the reference one.
type ServerFaults struct {
	// Greeting replaces the greeting bytes when non-nil.
	Greeting []byte
	// GreetOnConnect sends the greeting as soon as the connection opens,
	// before reading the name.
	GreetOnConnect bool
	// NoClose keeps the connection open after the greeting until the client
	// closes it (or Stop).
	NoClose bool
	// SingleRead takes one read as the whole name, like the tutorial.
	SingleRead bool
	// KeepLastRead ends the name correctly but keeps only the bytes of the
	// last read in it, as a loop that overwrites instead of appending.
	KeepLastRead bool
	// MaxName replaces the 1024-byte name limit when non-zero.
	MaxName int
	// IgnoreEOFWithoutBytes does not greet an empty name (end of stream
	// with zero bytes): it closes silently.
	IgnoreEOFWithoutBytes bool
	// NoGreetOnIdle closes without a greeting when T passes after some
	// bytes, instead of taking them as the name.
	NoGreetOnIdle bool
	// WaitAfterLimit keeps reading after 1024 bytes until end of stream or
	// T, instead of ending the name at once.
	WaitAfterLimit bool
	// AbruptClose closes right after the greeting without half-closing and
	// draining, so unread input turns the close into a reset.
	AbruptClose bool
	// DieOnClientClose makes the whole server stop accepting when a client
	// resets the connection, whether reading the name or writing the greeting
	// meets it (as the tutorial does on EPIPE/ECONNRESET).
	DieOnClientClose bool
	// DieOnInvalidUTF8 makes the whole server stop when a name is not valid
	// UTF-8 (as the tutorial's strict decode does).
	DieOnInvalidUTF8 bool
	// StopAfterInvalidUTF8 greets a client whose name is not valid UTF-8
	// correctly, then stops accepting.
	StopAfterInvalidUTF8 bool
	// TrimName strips leading and trailing white space from the name.
	TrimName bool
	// CollapseInvalidRuns decodes each run of invalid bytes as one U+FFFD
	// instead of one per maximal subpart.
	CollapseInvalidRuns bool
	// GoDecoding decodes with Go's per-byte replacement instead of one
	// U+FFFD per maximal subpart.
	GoDecoding bool
	// Latin1Decoding decodes the name as ISO-8859-1.
	Latin1Decoding bool
	// CompleteCutChar reads up to three more bytes past the limit to
	// complete a character cut at byte 1024.
	CompleteCutChar bool
	// NoIdleClose never closes a connection on which nothing arrives.
	NoIdleClose bool
	// GreetIdle greets a connection on which nothing arrived for T.
	GreetIdle bool
	// Sequential serves one connection at a time, like the tutorial.
	Sequential bool
	// MaxConcurrent, when non-zero, drops connections beyond that many at
	// once (closes them without a greeting).
	MaxConcurrent int
	// LogFormat replaces the log line format (two %s: address, name).
	LogFormat string
	// NoLog writes no log line.
	NoLog bool
	// LogHostOnly logs the peer's IP address without its port.
	LogHostOnly bool
	// RawLog logs the name without escaping control characters.
	RawLog bool
	// LogASCIIOnly escapes every non-ASCII character of the name in the
	// log line, not only control characters.
	LogASCIIOnly bool
	// LogEscapeNonPrintable also escapes, in the log line, every character
	// Go does not call printable (spaces other than U+0020, format
	// characters, private-use, unassigned and noncharacter code points), as
	// \x and the two low hex digits of the code point: over-escaped, and
	// wrongly (U+200B becomes \x0b).
	LogEscapeNonPrintable bool
	// ResetAfterGreeting closes every connection with RST (SO_LINGER 0)
	// right after the greeting, instead of half-closing, draining and
	// closing with FIN.
	ResetAfterGreeting bool
	// MixConcurrentNames reports, for a connection whose name ends while
	// another connection is open, the name the previous such connection
	// ended with, as a server that keeps the name in one shared variable.
	MixConcurrentNames bool
	// LogRawSeparators escapes control characters but logs U+2028 and
	// U+2029 raw, as an escaper written for the control ranges alone does.
	LogRawSeparators bool
}

// Server is the configurable faulty server.
type Server struct {
	Faults ServerFaults
	Name   string

	mu       sync.Mutex
	listener net.Listener
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	seq      sync.Mutex // held per connection when Sequential
	active   int
	shared   string // the last name, when MixConcurrentNames
}

// Describe names the fault.
func (s *Server) Describe() *contract.DescribeResponse {
	return &contract.DescribeResponse{Name: "faulty server: " + s.Name}
}

// Start listens and serves until Stop.
func (s *Server) Start(_ context.Context, req *contract.StartRequest, report func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	idle := time.Duration(req.GetIdleTimeoutMs()) * time.Millisecond
	if idle <= 0 {
		idle = 10 * time.Second
	}
	ln, err := net.Listen("tcp", req.GetListenAddress())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.listener, s.conns = ln, map[net.Conn]struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go s.accept(ln, idle, report)
	return &contract.StartResponse{Address: ln.Addr().String()}, nil
}

// errDie ends the accept loop, as an exception escaping the tutorial's loop.
var errDie = errors.New("server died")

func (s *Server) accept(ln net.Listener, idle time.Duration, report func(*contract.ConnectionEvent)) {
	defer s.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		s.conns[conn] = struct{}{}
		s.active++
		over := s.Faults.MaxConcurrent > 0 && s.active > s.Faults.MaxConcurrent
		s.mu.Unlock()
		done := func() {
			s.mu.Lock()
			delete(s.conns, conn)
			s.active--
			s.mu.Unlock()
		}
		if over {
			_ = conn.Close()
			done()
			continue
		}
		if s.Faults.Sequential {
			// Serve in the accept loop itself: one connection at a time.
			ev, _ := s.serve(conn.(*net.TCPConn), idle)
			report(ev)
			done()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ev, err := s.serve(conn.(*net.TCPConn), idle)
			if errors.Is(err, errDie) {
				// Stop accepting before reporting, so that whoever sees the
				// event also finds the server gone.
				fmt.Fprintln(os.Stderr, "faulty server: dying:", ev.GetError())
				_ = ln.Close()
			}
			report(ev)
			done()
		}()
	}
}

func (s *Server) serve(conn *net.TCPConn, idle time.Duration) (*contract.ConnectionEvent, error) {
	f := s.Faults
	defer conn.Close()
	ev := &contract.ConnectionEvent{RemoteAddress: conn.RemoteAddr().String()}
	greeting := []byte(contract.Greeting)
	if f.Greeting != nil {
		greeting = f.Greeting
	}
	if f.GreetOnConnect {
		_, _ = conn.Write(greeting)
		ev.Reply = greeting
	}

	name, end, err := s.readName(conn, idle)
	ev.NameRaw, ev.NameEnd = name, end
	if err != nil {
		ev.Error = err.Error()
	}
	switch {
	case end == contract.NameEnd_NAME_END_ERROR && f.DieOnClientClose && errors.Is(err, syscall.ECONNRESET):
		return ev, errDie
	case end == contract.NameEnd_NAME_END_ERROR:
		return ev, nil
	case end == contract.NameEnd_NAME_END_IDLE && len(name) == 0 && !f.GreetIdle:
		return ev, nil
	case end == contract.NameEnd_NAME_END_IDLE && len(name) > 0 && f.NoGreetOnIdle:
		return ev, nil
	case end == contract.NameEnd_NAME_END_EOF && len(name) == 0 && f.IgnoreEOFWithoutBytes:
		return ev, nil
	}
	if f.DieOnInvalidUTF8 && !validUTF8(name) {
		ev.Error = "invalid UTF-8 in name"
		return ev, errDie
	}
	ev.Name = s.decode(name)
	if f.MixConcurrentNames {
		s.mu.Lock()
		if s.active > 1 {
			ev.Name, s.shared = s.shared, ev.Name
		}
		s.mu.Unlock()
	}
	if !f.NoLog {
		format, logged := "connected with: %s %s", contract.EscapeLogName(ev.Name)
		if f.LogFormat != "" {
			format = f.LogFormat
		}
		if f.LogASCIIOnly {
			logged = strings.Trim(strconv.QuoteToASCII(logged), `"`)
		}
		if f.LogEscapeNonPrintable {
			logged = escapeNonPrintable(ev.Name)
		}
		if f.LogRawSeparators {
			logged = strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029").Replace(logged)
		}
		if f.RawLog {
			logged = ev.Name
		}
		address := ev.RemoteAddress
		if host, _, err := net.SplitHostPort(address); err == nil && f.LogHostOnly {
			address = host
		}
		ev.LogLine = fmt.Sprintf(format, address, logged)
		fmt.Fprintln(os.Stderr, ev.LogLine)
	}
	if !f.GreetOnConnect {
		_ = conn.SetWriteDeadline(time.Now().Add(idle))
		n, err := conn.Write(greeting)
		ev.Reply = greeting[:n]
		if err != nil {
			ev.Error = err.Error()
			if f.DieOnClientClose && (errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
				return ev, errDie
			}
			return ev, nil
		}
	}
	switch {
	case f.ResetAfterGreeting:
		_ = conn.SetLinger(0)
		return ev, nil
	case f.AbruptClose:
		return ev, nil
	case f.NoClose:
		_ = conn.SetReadDeadline(time.Time{})
		_, _ = io.Copy(io.Discard, conn) // until the client or Stop closes it
		return ev, nil
	}
	_ = conn.CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(idle))
	_, _ = io.Copy(io.Discard, conn)
	if f.StopAfterInvalidUTF8 && !validUTF8(name) {
		ev.Error = "stopping after a name that is not valid UTF-8"
		return ev, errDie
	}
	return ev, nil
}

func (s *Server) readName(conn net.Conn, idle time.Duration) ([]byte, contract.NameEnd, error) {
	f := s.Faults
	limit := contract.MaxNameBytes
	if f.MaxName > 0 {
		limit = f.MaxName
	}
	buf := make([]byte, limit+3)
	n, first := 0, 0 // first: where the kept part of the name starts
	for n < limit || (f.WaitAfterLimit && n < len(buf)) {
		if f.NoIdleClose && n == 0 {
			_ = conn.SetReadDeadline(time.Time{})
		} else {
			_ = conn.SetReadDeadline(time.Now().Add(idle))
		}
		max := limit
		if f.WaitAfterLimit {
			max = len(buf)
		}
		m, err := conn.Read(buf[n:max])
		if m > 0 && f.KeepLastRead {
			first = n
		}
		n += m
		switch {
		case err == nil:
			if f.SingleRead {
				return buf[first:n], contract.NameEnd_NAME_END_EOF, nil
			}
		case errors.Is(err, io.EOF):
			return buf[min(first, limit):min(n, limit)], contract.NameEnd_NAME_END_EOF, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			return buf[min(first, limit):min(n, limit)], contract.NameEnd_NAME_END_IDLE, nil
		default:
			return buf[min(first, limit):min(n, limit)], contract.NameEnd_NAME_END_ERROR, err
		}
	}
	name := buf[min(first, limit):limit]
	if f.CompleteCutChar {
		name = s.completeCut(conn, buf, limit, idle)
	}
	return name, contract.NameEnd_NAME_END_LIMIT, nil
}

// completeCut reads the missing bytes of a character cut at the limit.
func (s *Server) completeCut(conn net.Conn, buf []byte, limit int, idle time.Duration) []byte {
	need := missingBytes(buf[:limit])
	if need == 0 {
		return buf[:limit]
	}
	_ = conn.SetReadDeadline(time.Now().Add(idle))
	m, _ := io.ReadFull(conn, buf[limit:limit+need])
	return buf[:limit+m]
}

func (s *Server) decode(name []byte) string {
	switch {
	case s.Faults.TrimName:
		return strings.TrimSpace(contract.DecodeUTF8(name))
	case s.Faults.CollapseInvalidRuns:
		return collapseInvalidRuns(name)
	case s.Faults.GoDecoding:
		return string([]rune(string(name))) // Go replaces each bad byte
	case s.Faults.Latin1Decoding:
		r := make([]rune, len(name))
		for i, b := range name {
			r[i] = rune(b)
		}
		return string(r)
	}
	return contract.DecodeUTF8(name)
}

// escapeNonPrintable escapes what contract.EscapeLogName escapes and also
// every other character that unicode.IsPrint rejects, as \x and the low
// byte of its code point.
func escapeNonPrintable(name string) string {
	var sb strings.Builder
	for _, r := range name {
		switch {
		case contract.EscapedInLog(r) || r == '\\':
			sb.WriteString(contract.EscapeLogName(string(r)))
		case !unicode.IsPrint(r):
			fmt.Fprintf(&sb, `\x%02x`, r&0xFF)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// collapseInvalidRuns decodes b replacing each run of bytes that do not
// form a character with a single U+FFFD, a common but wrong shortcut.
func collapseInvalidRuns(b []byte) string {
	var sb strings.Builder
	inRun := false
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r == utf8.RuneError && size == 1 {
			if !inRun {
				sb.WriteRune(utf8.RuneError)
			}
			inRun = true
			continue
		}
		inRun = false
		sb.WriteRune(r)
	}
	return sb.String()
}

// Stop closes the listener and every open connection.
func (s *Server) Stop(context.Context) error {
	s.mu.Lock()
	if s.listener != nil {
		_ = s.listener.Close()
		s.listener = nil
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
