package specs

import (
	"net"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
)

// greetAfter serves one connection on a fresh listener: it reads until the
// client has been silent for idle (as a correct server ends a name by T),
// or at once if idle is zero (an early server), then greets and closes.
func greetAfter(t *testing.T, idle time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1024)
		for {
			if idle == 0 {
				if _, err := c.Read(buf); err != nil {
					return
				}
				break
			}
			_ = c.SetReadDeadline(time.Now().Add(idle))
			if _, err := c.Read(buf); err != nil {
				break // T of silence (or end of stream) ended the name
			}
		}
		_, _ = c.Write([]byte(contract.Greeting))
	}()
	return ln.Addr().String()
}

// TestStalledProbeIsVoid reproduces a probe that its machine stalls past T
// between its first bytes and its next read: a correct server greets after
// T of silence, and the measured pause says so (void), while a server that
// greets at once is seen well within T (a proof).
func TestStalledProbeIsVoid(t *testing.T) {
	const idle = 200 * time.Millisecond
	for _, tc := range []struct {
		name      string
		serverT   time.Duration
		stall     time.Duration
		wantProof bool
	}{
		{"correct server, stalled probe", idle, 4 * idle, false},
		{"early server, prompt probe", 0, 0, true},
		// The early server is a proof only while the probe is prompt: a
		// stalled probe's observation of it is void too, and retried.
		{"early server, stalled probe", 0, 4 * idle, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := wire.Dial(greetAfter(t, tc.serverT), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.Send([]byte("Asif"), time.Second); err != nil {
				t.Fatal(err)
			}
			time.Sleep(tc.stall) // the probe's process stalled by load
			res := conn.ReadFor(5 * time.Second)
			if len(res.Data) == 0 {
				t.Fatalf("no reply: %s", res)
			}
			pause := probePause(conn, peerActedAt(conn))
			if got := pause < idle; got != tc.wantProof {
				t.Fatalf("pause %v against T %v: proof %v, want %v\n%s", pause, idle, got, tc.wantProof, conn.Transcript())
			}
		})
	}
}

// TestProbePauseSpansPieces: a pause of T or more between two writes makes
// an observation void even if the reply follows the last write at once.
func TestProbePauseSpansPieces(t *testing.T) {
	conn, err := wire.Dial(greetAfter(t, 10*time.Second), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 2 {
		if err := conn.Send([]byte("As"), time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if p := probePause(conn, lastSend(conn, soFar).At); p < 30*time.Millisecond {
		t.Fatalf("pause %v between two writes 30ms apart, want at least 30ms\n%s", p, conn.Transcript())
	}
}
