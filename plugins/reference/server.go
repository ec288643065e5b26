// Package reference holds greetspec's reference implementations of the
// greeting protocol: a server and a client that meet every MUST and SHOULD
// of PROTOCOL.md. They are the yardstick every spec is checked against, so
// they stay small and plain.
package reference

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// DefaultIdleTimeout is T when the host passes none.
const DefaultIdleTimeout = 10 * time.Second

// Server is the reference server: a goroutine per connection, the name read
// until 1024 bytes, end of stream or T of silence, and an orderly close.
type Server struct {
	// Log receives the server's log lines; nil means the process's standard
	// error (see stderr).
	Log *log.Logger

	mu       sync.Mutex
	listener net.Listener
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// Describe names the implementation.
func (s *Server) Describe() *contract.DescribeResponse {
	return &contract.DescribeResponse{Name: "greetspec reference server"}
}

// Start listens on req's address and serves until Stop.
func (s *Server) Start(_ context.Context, req *contract.StartRequest, report func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	idle := time.Duration(req.GetIdleTimeoutMs()) * time.Millisecond
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	ln, err := net.Listen("tcp", req.GetListenAddress())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.listener = ln
	s.conns = map[net.Conn]struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go s.accept(ln, idle, report)
	return &contract.StartResponse{Address: ln.Addr().String()}, nil
}

func (s *Server) accept(ln net.Listener, idle time.Duration, report func(*contract.ConnectionEvent)) {
	defer s.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure (for example too many open files) must not
			// end the server; back off briefly instead of spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			report(s.serve(conn.(*net.TCPConn), idle))
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
		}()
	}
}

// serve runs one greeting exchange and says what happened.
func (s *Server) serve(conn *net.TCPConn, idle time.Duration) *contract.ConnectionEvent {
	defer conn.Close()
	ev := &contract.ConnectionEvent{RemoteAddress: conn.RemoteAddr().String()}

	name, end, err := readName(conn, idle)
	// A copy of the name's bytes, not the 1024-byte read buffer: the event is
	// kept until the next Start (every connection of a run, a benchmark's
	// hundreds of thousands included).
	ev.NameRaw, ev.NameEnd = bytes.Clone(name), end
	if err != nil {
		ev.Error = err.Error()
	}
	if end == contract.NameEnd_NAME_END_ERROR || (end == contract.NameEnd_NAME_END_IDLE && len(name) == 0) {
		return ev // no name: nobody to greet (SRV-IDLE-1)
	}
	ev.Name = contract.DecodeUTF8(name)
	ev.LogLine = "connected with: " + ev.RemoteAddress + " " + contract.EscapeLogName(ev.Name)
	s.logger().Print(ev.LogLine)

	_ = conn.SetWriteDeadline(time.Now().Add(idle))
	n, err := conn.Write([]byte(contract.Greeting))
	ev.Reply = []byte(contract.Greeting)[:n]
	if err != nil {
		ev.Error = err.Error()
		return ev
	}
	// Orderly close (SRV-CLOSE-1): FIN first, then drain what the client may
	// still send, so that closing never turns into a reset that could destroy
	// the greeting in flight.
	_ = conn.CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(idle))
	_, _ = io.Copy(io.Discard, conn)
	return ev
}

// readName reads until 1024 bytes, end of stream, or idle of silence.
func readName(conn net.Conn, idle time.Duration) ([]byte, contract.NameEnd, error) {
	buf := make([]byte, contract.MaxNameBytes)
	n := 0
	for n < len(buf) {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		m, err := conn.Read(buf[n:])
		n += m
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return buf[:n], contract.NameEnd_NAME_END_EOF, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			return buf[:n], contract.NameEnd_NAME_END_IDLE, nil
		default:
			return buf[:n], contract.NameEnd_NAME_END_ERROR, err
		}
	}
	return buf[:n], contract.NameEnd_NAME_END_LIMIT, nil
}

// stderr is the process's standard error as it started. A Go plugin's
// go-plugin Serve later points os.Stderr at a pipe whose lines it relays to
// the host over its gRPC stdio stream (a goroutine, a gRPC message and a TLS
// record per line, which the host then discards); the reference server
// writes its log to file descriptor 2 itself, which the host drains line by
// line and keeps the last lines of for its error messages.
var stderr = log.New(os.Stderr, "", 0)

func (s *Server) logger() *log.Logger {
	if s.Log != nil {
		return s.Log
	}
	return stderr
}

// Stop closes the listener and every open connection, then waits for the
// connection goroutines.
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
