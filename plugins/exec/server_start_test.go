package execadapter

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

func TestServerSlowStartIsWaitedFor(t *testing.T) {
	t.Parallel()
	// A program that takes 1.5 s to open its port (a loaded machine) is
	// waited for, and Start returns as soon as it is ready.
	py := python(t)
	s, err := newServer(ServerConfig{Command: py + " " + testdata(t, "server.py") + " --port {port} --listen-after-ms 1500", ReadyTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	start := time.Now()
	if _, err := s.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0"}, func(*contract.ConnectionEvent) {}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 1500*time.Millisecond || took > 10*time.Second {
		t.Errorf("Start took %v for a program that listens after 1.5s", took)
	}
}

func TestServerStartDeadlineLeavesNothingStarted(t *testing.T) {
	t.Parallel()
	// A program slower than the Start call's deadline: Start answers, in
	// one cause-first line, before the caller's deadline passes, stops the
	// program, and the next Start is not refused as "already started".
	py := python(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	// sh writes the PID at once and becomes the program: Python itself may
	// not get to its first line before the deadline on a loaded machine.
	s, err := newServer(ServerConfig{Command: `/bin/sh -c 'echo $$ > "$0"; exec "$@"' ` + pidFile + " " + py + " " + testdata(t, "server.py") + " --port {port} --listen-after-ms 4000"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), startMargin+1500*time.Millisecond)
	defer cancel()
	_, err = s.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0"}, func(*contract.ConnectionEvent) {})
	if err == nil {
		t.Fatal("Start succeeded")
	}
	if ctx.Err() != nil {
		t.Errorf("Start answered only after its deadline: %v", err)
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	for _, w := range []string{"the server program", "did not accept connections", "of its start", "the Start call's deadline"} {
		if !strings.Contains(first, w) {
			t.Errorf("first line %q does not mention %q", first, w)
		}
	}
	// On a loaded machine the program may not have printed its first line
	// yet.
	if !strings.Contains(first, `(its last output: "server starting")`) && !strings.Contains(first, "(no output)") {
		t.Errorf("first line %q does not end with the program's last output", first)
	}
	waitGone(t, readPID(t, pidFile))
	s.stateMu.Lock()
	running := s.running
	s.stateMu.Unlock()
	if running != nil {
		t.Error("a server is still recorded as started")
	}
}

func TestServerReadyTimeoutNetOfCPUWait(t *testing.T) {
	t.Parallel()
	// A program that opens its port after 1.5 s with a ready timeout of
	// 700 ms, having waited 1 s more for a CPU at every check: it is
	// waited for (the "never listens" case of TestServerStartFailures is
	// the same wait without CPU wait).
	py := python(t)
	s, err := newServer(ServerConfig{Command: py + " " + testdata(t, "server.py") + " --port {port} --listen-after-ms 1500", ReadyTimeout: 700 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCPUWait{}
	for i := 1; i <= 10; i++ {
		f.values = append(f.values, time.Duration(i)*time.Second)
	}
	s.cpuWait = f.reader
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	if _, err := s.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0"}, func(*contract.ConnectionEvent) {}); err != nil {
		t.Fatal(err)
	}
}
