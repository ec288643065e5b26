package load

import (
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// RawServer is the minimal correct goroutine-per-connection greeting server
// that benchmarks compare other servers with: no plugin boundary, no events,
// but the protocol's whole work, its log line included.
type RawServer struct {
	ln  net.Listener
	wg  sync.WaitGroup
	log *log.Logger
}

// StartRaw listens on addr (127.0.0.1:0 for a free port) with idle timeout
// idle and serves until Close. It writes one log line per greeted
// connection to logTo (the protocol's "connected with: <address> <name>",
// the name escaped), as the reference server does; nil discards them.
func StartRaw(addr string, idle time.Duration, logTo io.Writer) (*RawServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if logTo == nil {
		logTo = io.Discard
	}
	s := &RawServer{ln: ln, log: log.New(logTo, "", 0)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.exchange(c.(*net.TCPConn), idle)
			}()
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *RawServer) Addr() string { return s.ln.Addr().String() }

// Close stops accepting and waits for open exchanges (each bounded by the
// idle timeout).
func (s *RawServer) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *RawServer) exchange(c *net.TCPConn, idle time.Duration) {
	defer c.Close()
	buf := make([]byte, contract.MaxNameBytes)
	n := 0
	for n < len(buf) {
		_ = c.SetReadDeadline(time.Now().Add(idle))
		k, err := c.Read(buf[n:])
		n += k
		if errors.Is(err, io.EOF) {
			break
		}
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout() && n > 0) {
			return
		}
		if err != nil {
			break
		}
	}
	s.log.Println("connected with: " + c.RemoteAddr().String() + " " + contract.EscapeLogName(contract.DecodeUTF8(buf[:n])))
	if _, err := c.Write([]byte(contract.Greeting)); err != nil {
		return
	}
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(idle))
	_, _ = io.Copy(io.Discard, c)
}
