package execadapter

import (
	"net"
	"testing"
	"time"
)

// openConns counts a port's connections from their accept to their close
// by the server, whatever state the client side is in.
func TestOpenConns(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	count := func() int {
		t.Helper()
		n, ok := openConns(port)
		if !ok {
			t.Fatal("openConns could not count")
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d connections on a fresh listener", n)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := count(); n != 1 {
		t.Errorf("%d connections with one in the accept queue, want 1", n)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = c.Close()
	eventually(t, 5*time.Second, "the server side in CLOSE_WAIT", func() bool {
		_ = s.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := s.Read(make([]byte, 1))
		return err != nil && !isTimeout(err)
	})
	if n := count(); n != 1 {
		t.Errorf("%d connections with the client gone but the server's end open, want 1", n)
	}
	_ = s.Close()
	if n := count(); n != 0 {
		t.Errorf("%d connections once the server closed its end, want 0", n)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
