package wire

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestAcceptUnless checks the three ways AcceptUnless ends: a connection
// (even one made just before done was closed), done closed with no
// connection (after grace, not after the timeout), and the timeout.
func TestAcceptUnless(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// A connection made before done is closed is still accepted.
	c, err := net.Dial("tcp", ln.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan struct{})
	close(done)
	conn, err := ln.AcceptUnless(done, time.Second, time.Minute)
	if err != nil {
		t.Fatalf("a queued connection: %v", err)
	}
	conn.Close()

	// No connection: done ends the wait after grace, long before the timeout.
	done = make(chan struct{})
	time.AfterFunc(20*time.Millisecond, func() { close(done) })
	start := time.Now()
	_, err = ln.AcceptUnless(done, 10*time.Millisecond, time.Minute)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after done: got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("after done the wait lasted %v", d)
	}

	// Neither: the timeout ends it, and the next accept is not cut short
	// by a deadline left over from the last call.
	_, err = ln.AcceptUnless(make(chan struct{}), time.Second, 20*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("at the timeout: got %v, want a deadline error", err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		if c, err := net.Dial("tcp", ln.Addr()); err == nil {
			defer c.Close()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	conn, err = ln.AcceptUnless(make(chan struct{}), time.Second, time.Minute)
	if err != nil {
		t.Fatalf("a later connection: %v", err)
	}
	conn.Close()
}
