package load

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/testsupport"
)

func TestRunAgainstRawServer(t *testing.T) {
	srv, err := StartRaw("127.0.0.1:0", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := Run(context.Background(), Config{Addr: srv.Addr(), Concurrency: 4, Duration: 5 * time.Second, MaxExchanges: 200, Name: []byte("bench")})
	if r.Exchanges != 200 || r.OK != 200 || len(r.Errors) != 0 {
		t.Errorf("200 exchanges wanted, all OK: %+v", r)
	}
	if r.P50 <= 0 || r.P50 > r.P90 || r.P90 > r.P99 || r.P99 > r.Max {
		t.Errorf("latencies out of order: %+v", r)
	}
}

func TestRunRespectsItsDuration(t *testing.T) {
	srv, err := StartRaw("127.0.0.1:0", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	start := time.Now()
	r := Run(context.Background(), Config{Addr: srv.Addr(), Concurrency: 2, Duration: 300 * time.Millisecond, Timeout: 2 * time.Second, Name: []byte("x"), Idle: 2, Slowloris: 2, SlowInterval: 50 * time.Millisecond})
	// The bound is the duration plus one exchange timeout.
	if took := time.Since(start); took > 300*time.Millisecond+2*time.Second+time.Second {
		t.Errorf("a 300ms run took %v", took)
	}
	if r.Background != 4 {
		t.Errorf("held %d background connections, want 4", r.Background)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	// A port bound without listening refuses.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if c := Exchange(addr, []byte("x"), time.Second); c != Refused {
		t.Errorf("closed port: %q, want refused", c)
	}
	// A server that answers something else is a wrong reply; one that
	// resets is a reset; one that never answers is a timeout.
	for _, tc := range []struct {
		serve func(c *net.TCPConn)
		want  ErrorClass
	}{
		{func(c *net.TCPConn) { c.Write([]byte("hello")); c.Close() }, WrongReply},
		{func(c *net.TCPConn) { c.SetLinger(0); c.Close() }, Reset},
		{func(c *net.TCPConn) { time.Sleep(600 * time.Millisecond); c.Close() }, Timeout},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err == nil {
				buf := make([]byte, 16)
				c.SetReadDeadline(time.Now().Add(time.Second))
				c.Read(buf)
				tc.serve(c.(*net.TCPConn))
			}
		}()
		if got := Exchange(ln.Addr().String(), []byte("x"), 300*time.Millisecond); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
		ln.Close()
	}
}

// The raw server does the protocol's whole work, its log line included.
func TestRawServerLogs(t *testing.T) {
	var log testsupport.SyncBuffer
	srv, err := StartRaw("127.0.0.1:0", time.Second, &log)
	if err != nil {
		t.Fatal(err)
	}
	if c := Exchange(srv.Addr(), []byte("a\nb"), 2*time.Second); c != "" {
		t.Fatalf("exchange: %s", c)
	}
	srv.Close()
	if got := log.String(); !strings.HasPrefix(got, "connected with: 127.0.0.1:") || !strings.HasSuffix(got, ` a\nb`+"\n") {
		t.Errorf("log %q: want one escaped line", got)
	}
}

// Merged rounds add up and keep the percentiles of all the exchanges.
func TestMerge(t *testing.T) {
	ms := func(ds ...int) []time.Duration {
		var out []time.Duration
		for _, d := range ds {
			out = append(out, time.Duration(d)*time.Millisecond)
		}
		return out
	}
	a := Result{Concurrency: 8, Exchanges: 3, OK: 2, Errors: map[ErrorClass]int{Reset: 1}, Elapsed: time.Second, lat: ms(1, 3)}
	b := Result{Concurrency: 8, Exchanges: 2, OK: 2, Errors: map[ErrorClass]int{Reset: 1, Timeout: 2}, Elapsed: time.Second, lat: ms(4, 2), Background: 3}
	m := Merge(a, b)
	if m.Exchanges != 5 || m.OK != 4 || m.Elapsed != 2*time.Second || m.PerSecond != 2 || m.Rounds != 2 || m.Background != 3 || m.Concurrency != 8 {
		t.Errorf("merged %+v", m)
	}
	if m.Errors[Reset] != 2 || m.Errors[Timeout] != 2 {
		t.Errorf("errors %v", m.Errors)
	}
	if m.P50 != 3*time.Millisecond || m.Max != 4*time.Millisecond {
		t.Errorf("p50 %v max %v, want 3ms and 4ms", m.P50, m.Max)
	}
}
