package contract_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// exampleServer is a complete greeting server: it reads the name until 1024
// bytes, end of stream or T of silence, logs and reports it, greets,
// half-closes, drains for at most T and closes.
type exampleServer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]bool
}

func (s *exampleServer) Start(_ context.Context, req *contract.StartRequest, report func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	ln, err := net.Listen("tcp", req.GetListenAddress())
	if err != nil {
		return nil, err
	}
	idle := time.Duration(req.GetIdleTimeoutMs()) * time.Millisecond
	if idle == 0 {
		idle = 5 * time.Second
	}
	s.ln, s.open = ln, map[net.Conn]bool{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open[conn] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				report(serveConn(conn.(*net.TCPConn), idle))
				s.mu.Lock()
				delete(s.open, conn)
				s.mu.Unlock()
			}()
		}
	}()
	return &contract.StartResponse{Address: ln.Addr().String()}, nil
}

func (s *exampleServer) Stop(context.Context) error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// serveConn runs the exchange on one connection and says what it saw.
func serveConn(conn *net.TCPConn, idle time.Duration) *contract.ConnectionEvent {
	defer conn.Close()
	ev := &contract.ConnectionEvent{RemoteAddress: conn.RemoteAddr().String()}
	buf := make([]byte, contract.MaxNameBytes)
	n := 0
	for ev.NameEnd == contract.NameEnd_NAME_END_UNSPECIFIED {
		conn.SetReadDeadline(time.Now().Add(idle))
		k, err := conn.Read(buf[n:])
		n += k
		var ne net.Error
		switch {
		case n == len(buf):
			ev.NameEnd = contract.NameEnd_NAME_END_LIMIT
		case errors.Is(err, io.EOF):
			ev.NameEnd = contract.NameEnd_NAME_END_EOF
		case errors.As(err, &ne) && ne.Timeout() && n > 0:
			ev.NameEnd = contract.NameEnd_NAME_END_IDLE
		case err != nil: // reset, or no byte at all for T: no name, no greeting
			ev.NameEnd, ev.Error = contract.NameEnd_NAME_END_ERROR, err.Error()
			return ev
		}
	}
	ev.NameRaw = buf[:n]
	ev.Name = contract.DecodeUTF8(ev.NameRaw)
	ev.LogLine = "connected with: " + ev.RemoteAddress + " " + contract.EscapeLogName(ev.Name)
	fmt.Fprintln(os.Stderr, ev.LogLine)
	if _, err := conn.Write([]byte(contract.Greeting)); err != nil {
		ev.Error = err.Error()
		return ev
	}
	ev.Reply = []byte(contract.Greeting)
	conn.CloseWrite()
	conn.SetReadDeadline(time.Now().Add(idle)) // drain, so close sends FIN, not RST
	io.Copy(io.Discard, conn)
	return ev
}

// exampleClient is a complete greeting client.
type exampleClient struct{}

func (exampleClient) Greet(ctx context.Context, req *contract.GreetRequest) (*contract.GreetResponse, error) {
	name := []byte(req.GetName())
	if len(name) > contract.MaxNameBytes {
		return &contract.GreetResponse{ErrorClass: contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG, Error: "name too long"}, nil
	}
	timeout := time.Duration(req.GetTimeoutMs()) * time.Millisecond
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	conn, err := net.DialTimeout("tcp", req.GetAddress(), timeout)
	if err != nil {
		return failure(nil, err), nil
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if _, err := conn.Write(name); err != nil {
		return failure(nil, err), nil
	}
	conn.(*net.TCPConn).CloseWrite()
	reply := make([]byte, 0, contract.MaxNameBytes)
	for len(reply) < contract.MaxNameBytes {
		k, err := conn.Read(reply[len(reply):cap(reply)])
		reply = reply[:len(reply)+k]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return failure(reply, err), nil
		}
	}
	if len(reply) == 0 {
		return &contract.GreetResponse{ErrorClass: contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY, Error: "closed without a reply"}, nil
	}
	return &contract.GreetResponse{Reply: reply, Shown: contract.DecodeUTF8(reply)}, nil
}

// failure classifies a network error, keeping the bytes received before it.
func failure(got []byte, err error) *contract.GreetResponse {
	class := contract.ErrorClass_ERROR_CLASS_OTHER
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		class = contract.ErrorClass_ERROR_CLASS_REFUSED
	case errors.Is(err, syscall.ECONNRESET):
		class = contract.ErrorClass_ERROR_CLASS_RESET
	case errors.As(err, &ne) && ne.Timeout():
		class = contract.ErrorClass_ERROR_CLASS_TIMEOUT
	}
	return &contract.GreetResponse{Reply: got, Shown: contract.DecodeUTF8(got), ErrorClass: class, Error: err.Error()}
}

// A server plugin: implement contract.Server and serve it. The binary is
// then tested with `greetspec run --server ./my-server`.
func ExampleServe_server() {
	contract.Serve(contract.Plugins{Server: &exampleServer{}})
}

// A client plugin: implement contract.Client and serve it. The binary is
// then tested with `greetspec run --client ./my-client`.
func ExampleServe_client() {
	contract.Serve(contract.Plugins{Client: exampleClient{}})
}

// One binary may serve both roles.
func ExampleServe_both() {
	contract.Serve(contract.Plugins{Server: &exampleServer{}, Client: exampleClient{}})
}
