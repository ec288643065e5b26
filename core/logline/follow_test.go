package logline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// collect subscribes to fl and returns a function that waits for n events.
func collect(t *testing.T, fl *Follower) func(n int) []*contract.ConnectionEvent {
	ch := make(chan *contract.ConnectionEvent, 100)
	cancel := fl.Subscribe(func(ev *contract.ConnectionEvent) { ch <- ev })
	t.Cleanup(cancel)
	return func(n int) []*contract.ConnectionEvent {
		var out []*contract.ConnectionEvent
		deadline := time.After(10 * time.Second)
		for len(out) < n {
			select {
			case ev := <-ch:
				out = append(out, ev)
			case <-deadline:
				t.Fatalf("got %d events, want %d", len(out), n)
			}
		}
		return out
	}
}

func appendTo(t *testing.T, path, s string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
}

func TestFollowFileFromEndThroughRotation(t *testing.T) {
	p, _ := New("")
	path := filepath.Join(t.TempDir(), "server.log")
	appendTo(t, path, "connected with: 127.0.0.1:1 old\n")
	fl, err := FollowFile(path, p)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	next := collect(t, fl)
	appendTo(t, path, "noise\nconnected with: 127.0.0.1:2 new")
	appendTo(t, path, "\r\n")
	if ev := next(1)[0]; ev.Name != "new" || ev.RemoteAddress != "127.0.0.1:2" {
		t.Fatalf("first event %v, want the line written after following began", ev)
	}
	// Rotation: the file is moved away and a new one takes its path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "connected with: 127.0.0.1:3 rotated\n")
	if ev := next(1)[0]; ev.Name != "rotated" {
		t.Fatalf("after rotation got %v", ev)
	}
	if fl.Err() != nil {
		t.Fatal(fl.Err())
	}
}

func TestFollowFileMissing(t *testing.T) {
	p, _ := New("")
	if _, err := FollowFile(filepath.Join(t.TempDir(), "none"), p); err == nil {
		t.Fatal("following a missing file succeeded")
	}
}

func TestFollowCommandKilledAtClose(t *testing.T) {
	p, _ := New("")
	path := filepath.Join(t.TempDir(), "server.log")
	appendTo(t, path, "")
	fl, err := FollowCommand([]string{"tail", "-n", "+1", "-F", path}, p)
	if err != nil {
		t.Fatal(err)
	}
	next := collect(t, fl)
	appendTo(t, path, "connected with: ('127.0.0.1', 4) a b\n")
	if ev := next(1)[0]; ev.Name != "a b" || ev.RemoteAddress != "127.0.0.1:4" {
		t.Fatalf("event %v", ev)
	}
	done := make(chan struct{})
	go func() { fl.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the command")
	}
}

func TestFollowCommandThatExitsIsAnError(t *testing.T) {
	p, _ := New("")
	fl, err := FollowCommand([]string{"sh", "-c", "echo 'connected with: 127.0.0.1:5 x'; echo oops >&2; exit 7"}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	deadline := time.Now().Add(10 * time.Second)
	for fl.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if fl.Err() == nil || !strings.Contains(fl.Err().Error(), "oops") {
		t.Fatalf("Err() = %v, want the command's end and its error output", fl.Err())
	}
	if _, err := FollowCommand([]string{"/no/such/command"}, p); err == nil {
		t.Fatal("a missing command started")
	}
}
