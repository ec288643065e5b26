package load

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// RawServer is the minimal correct goroutine-per-connection greeting server
// that benchmarks compare other servers with: no plugin boundary, no events,
// no log.
type RawServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

// StartRaw listens on addr (127.0.0.1:0 for a free port) with idle timeout
// idle and serves until Close.
func StartRaw(addr string, idle time.Duration) (*RawServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &RawServer{ln: ln}
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
				rawExchange(c.(*net.TCPConn), idle)
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

func rawExchange(c *net.TCPConn, idle time.Duration) {
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
	_ = contract.DecodeUTF8(buf[:n])
	if _, err := c.Write([]byte(contract.Greeting)); err != nil {
		return
	}
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(idle))
	_, _ = io.Copy(io.Discard, c)
}
