package wire

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sendUntilFails sends until a write fails, as a probe does whose peer has
// gone; a closed peer answers the first late segment with RST.
func sendUntilFails(t *testing.T, c *Conn) error {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if err := c.Send([]byte("more of the name"), wait); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("sends kept succeeding for %v\n%s", wait, c.Transcript())
	return nil
}

// replyAndReset plays a server that takes a first piece as the whole name,
// replies and closes with unread input, which resets the connection.
func replyAndReset(t *testing.T) (client, server *Conn) {
	t.Helper()
	client, server = pair(t)
	mustSend(t, client, []byte("As"))
	expectEnd(t, server, server.ReadUntilEnd(2, wait), EndNone, "As")
	mustSend(t, server, []byte("welcome"))
	mustSend(t, client, []byte("if")) // unread when the server closes
	expectEnd(t, server, server.ReadUntilEnd(2, wait), EndNone, "if")
	mustSend(t, client, []byte("!"))
	// Wait until the byte is there, unread, so the close below resets.
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		if unread, _ := server.peek(); len(unread) > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	return client, server
}

func TestSendAfterPeerResetIsPeerError(t *testing.T) {
	client, _ := replyAndReset(t)
	err := sendUntilFails(t, client)
	var pe *PeerError
	if !errors.As(err, &pe) {
		t.Fatalf("send after the peer reset: %v (%T), want a *PeerError\n%s", err, err, client.Transcript())
	}
	if !pe.Reset || string(pe.Received) != "welcome" || pe.Op != "send" {
		t.Fatalf("PeerError %+v, want op send, reset, received %q\n%s", pe, "welcome", client.Transcript())
	}
	want := `the server replied (7 bytes "welcome") and reset the connection before the name had ended (send failed after 0 of 16 bytes: `
	if got := pe.Describe("the server", "the name had ended"); !strings.HasPrefix(got, want) {
		t.Fatalf("Describe = %q, want it to start %q", got, want)
	}
	if !strings.HasPrefix(err.Error(), "wire: the peer replied") {
		t.Fatalf("Error() = %q, want the peer's action first", err)
	}
	if Classify(err) != EndReset || !(errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("%v: Classify %s, want reset with the syscall error kept", err, Classify(err))
	}
	// The reply peeked for the message is still there for a read.
	r := client.ReadUntilEnd(0, wait)
	if string(r.Data) != "welcome" {
		t.Fatalf("read after the PeerError: %v, want the reply\n%s", r, client.Transcript())
	}
}

func TestCloseWriteAfterPeerResetIsPeerError(t *testing.T) {
	client, _ := replyAndReset(t)
	_ = sendUntilFails(t, client)
	err := client.CloseWrite()
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Op != "close-write" || !pe.Reset {
		t.Fatalf("half-close after the peer reset: %v (%T), want a close-write *PeerError\n%s", err, err, client.Transcript())
	}
	if got := pe.Describe("the server", "the name had ended"); !strings.HasPrefix(got, `the server replied (7 bytes "welcome") and reset the connection before the name had ended (the half-close failed: `) {
		t.Fatalf("Describe = %q", got)
	}
}

func TestSendPiecesWhileOpenStopsWhenPeerRepliesAndCloses(t *testing.T) {
	client, server := pair(t)
	go func() {
		if server.ReadUntilEnd(1, wait).End == EndNone {
			_ = server.Send([]byte("welcome"), wait)
			_ = server.CloseWrite()
		}
	}()
	err := client.SendPiecesWhileOpen([][]byte{[]byte("A"), []byte("s"), []byte("if")}, 200*time.Millisecond, wait)
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Err != nil || pe.Reset || !pe.Closed {
		t.Fatalf("SendPiecesWhileOpen: %v (%T), want a *PeerError without a local error\n%s", err, err, client.Transcript())
	}
	if string(pe.Received) != "welcome" || pe.Sent != 1 || pe.Total != 4 {
		t.Fatalf("PeerError %+v, want the reply received after 1 of 4 bytes", pe)
	}
	if got := pe.Describe("the server", "the name had ended"); got != `the server replied (7 bytes "welcome") and closed the connection before the name had ended (sending stopped after 1 of 4 bytes)` {
		t.Fatalf("Describe = %q", got)
	}
	expectEnd(t, client, client.ReadUntilEnd(0, wait), EndEOF, "welcome")
}

func TestSendPiecesWhileOpenStopsWhenPeerCloses(t *testing.T) {
	client, server := pair(t)
	go func() {
		if server.ReadUntilEnd(1, wait).End == EndNone {
			_ = server.CloseWrite()
		}
	}()
	err := client.SendPiecesWhileOpen([][]byte{[]byte("A"), []byte("sif")}, 200*time.Millisecond, wait)
	var pe *PeerError
	if !errors.As(err, &pe) || !pe.Closed || len(pe.Received) != 0 {
		t.Fatalf("SendPiecesWhileOpen: %v (%T), want a *PeerError for a close\n%s", err, err, client.Transcript())
	}
	if got := pe.PeerAction("the server"); got != "the server closed the connection" {
		t.Fatalf("PeerAction = %q", got)
	}
}

// A reply alone does not stop the pieces: whether it came too early is for
// the caller to judge from what it reads.
func TestSendPiecesWhileOpenSendsAllWhilePeerStaysOpen(t *testing.T) {
	client, server := pair(t)
	mustSend(t, server, []byte("early"))
	if err := client.SendPiecesWhileOpen([][]byte{[]byte("A"), []byte("sif")}, 10*time.Millisecond, wait); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, server, server.ReadUntilEnd(0, wait), EndEOF, "Asif")
	expectEnd(t, client, client.ReadUntilEnd(5, wait), EndNone, "early")
}

func TestSendPiecesWhileOpenSendsAllToSilentPeer(t *testing.T) {
	client, server := pair(t)
	if err := client.SendPiecesWhileOpen([][]byte{[]byte("A"), []byte("sif")}, 10*time.Millisecond, wait); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, server, server.ReadUntilEnd(0, wait), EndEOF, "Asif")
}

// A write after this side's own half-close fails by this side's doing: it
// is no PeerError.
func TestSendAfterOwnCloseWriteIsNoPeerError(t *testing.T) {
	client, _ := pair(t)
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	err := client.Send([]byte("x"), wait)
	var pe *PeerError
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("send after own half-close: %v (%T), want a plain error", err, err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Send([]byte("x"), wait); err == nil || errors.As(err, &pe) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send after own close: %v (%T), want net.ErrClosed", err, err)
	}
}

func TestPeerActionWording(t *testing.T) {
	for _, c := range []struct {
		e    PeerError
		want string
	}{
		{PeerError{}, "the client ended the connection"},
		{PeerError{Reset: true}, "the client reset the connection"},
		{PeerError{Closed: true, Reset: true}, "the client closed and reset the connection"},
		{PeerError{Received: []byte("hi"), Closed: true, Reset: true}, `the client replied (2 bytes "hi"), closed and reset the connection`},
		{PeerError{Received: []byte(strings.Repeat("x", 70))}, `the client replied (70 bytes "` + strings.Repeat("x", 64) + `"...)`},
	} {
		if got := c.e.PeerAction("the client"); got != c.want {
			t.Errorf("PeerAction(%+v) = %q, want %q", c.e, got, c.want)
		}
	}
}
