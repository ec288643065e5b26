package execadapter

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// events collects what a Server reports.
type events struct {
	mu   sync.Mutex
	list []*contract.ConnectionEvent
}

func (e *events) report(ev *contract.ConnectionEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

func (e *events) snapshot() []*contract.ConnectionEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*contract.ConnectionEvent(nil), e.list...)
}

// greet runs one exchange as a conforming client and returns the reply and
// the client's own address.
func greet(t *testing.T, addr, name string) (string, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(name)); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(reply), conn.LocalAddr().String()
}

// loggedLines counts the log lines the running program printed.
func loggedLines(s *Server) int {
	s.stateMu.Lock()
	r := s.running
	s.stateMu.Unlock()
	if r == nil {
		return -1
	}
	return strings.Count(r.out.joined(), "connected with:")
}

func TestServerReportsLogLines(t *testing.T) {
	t.Parallel()
	py := python(t)
	for _, format := range []string{"tuple", "colon"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidFile, childFile := filepath.Join(dir, "pid"), filepath.Join(dir, "child")
			s, err := newServer(ServerConfig{
				Command: py + " " + testdata(t, "server.py") + " --host {host} --port {port} --format " + format +
					" --pidfile " + pidFile + " --child-pidfile " + childFile,
				ReadyTimeout: 10 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			var evs events
			ctx := context.Background()
			resp, err := s.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0"}, evs.report)
			if err != nil {
				t.Fatal(err)
			}
			if _, port, _ := net.SplitHostPort(resp.GetAddress()); port == "0" || port == "" {
				t.Fatalf("Start returned address %q", resp.GetAddress())
			}
			if _, err := s.Start(ctx, &contract.StartRequest{}, evs.report); err == nil {
				t.Error("a second Start while running succeeded")
			}
			pid, child := readPID(t, pidFile), readPID(t, childFile)

			names := []string{"Bob", "Ann Marie 'x' $(y)", "héllo 😀"}
			var clients []string
			for _, name := range names {
				reply, local := greet(t, resp.GetAddress(), name)
				if reply != contract.Greeting {
					t.Errorf("reply = %q", reply)
				}
				clients = append(clients, local)
			}
			// The probe's own log line must have been printed too (three
			// clients plus the probe) before the absence of its event means
			// anything.
			eventually(t, 10*time.Second, "log lines missing", func() bool { return loggedLines(s) == len(names)+1 })
			eventually(t, 5*time.Second, "events missing", func() bool { return len(evs.snapshot()) >= len(names) })
			got := evs.snapshot()
			if len(got) != len(names) {
				t.Fatalf("got %d events, want %d (the probe must not be reported): %v", len(got), len(names), got)
			}
			byAddr := map[string]*contract.ConnectionEvent{}
			for _, ev := range got {
				byAddr[ev.GetRemoteAddress()] = ev
			}
			for i, name := range names {
				ev := byAddr[clients[i]]
				if ev == nil {
					t.Errorf("no event for client %s (%q); events: %v", clients[i], name, got)
					continue
				}
				if ev.GetName() != name || string(ev.GetNameRaw()) != name || !strings.Contains(ev.GetLogLine(), "connected with:") || !strings.HasSuffix(ev.GetLogLine(), name) {
					t.Errorf("event = %v, want name %q", ev, name)
				}
			}

			if err := s.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid, child)
			if n := len(evs.snapshot()); n != len(names) {
				t.Errorf("%d events after Stop, want %d", n, len(names))
			}

			// A fresh program on each Start.
			var evs2 events
			resp2, err := s.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0"}, evs2.report)
			if err != nil {
				t.Fatal(err)
			}
			pid2 := readPID(t, pidFile)
			if pid2 == pid {
				t.Error("second Start reused the program")
			}
			if reply, _ := greet(t, resp2.GetAddress(), "again"); reply != contract.Greeting {
				t.Errorf("reply after restart = %q", reply)
			}
			eventually(t, 5*time.Second, "event after restart missing", func() bool { return len(evs2.snapshot()) == 1 })
			if err := s.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid2, readPID(t, childFile))
			if err := s.Stop(ctx); err != nil {
				t.Errorf("Stop when stopped: %v", err)
			}
		})
	}
}

func TestServerInvalidUTF8Log(t *testing.T) {
	t.Parallel()
	py := python(t)
	s, err := newServer(ServerConfig{Command: py + " " + testdata(t, "server.py") + " --port {port} --format raw"})
	if err != nil {
		t.Fatal(err)
	}
	var evs events
	resp, err := s.Start(context.Background(), &contract.StartRequest{}, evs.report)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	greet(t, resp.GetAddress(), "a\xe2\x82b")
	eventually(t, 5*time.Second, "no event", func() bool { return len(evs.snapshot()) == 1 })
	ev := evs.snapshot()[0]
	if string(ev.GetNameRaw()) != "a\xe2\x82b" || ev.GetName() != "a\uFFFDb" {
		t.Errorf("name_raw %q name %q", ev.GetNameRaw(), ev.GetName())
	}
}

func TestServerStartFailures(t *testing.T) {
	t.Parallel()
	py := python(t)
	server := py + " " + testdata(t, "server.py") + " --port {port} "
	tests := []struct {
		name    string
		command string
		ready   time.Duration
		within  time.Duration
		want    []string
	}{
		{name: "crash", command: server + "--crash", ready: 30 * time.Second, within: 5 * time.Second,
			want: []string{"exited before its port", "exit status 3", "boom: cannot start", "server starting"}},
		{name: "never listens", command: server + "--no-listen", ready: 700 * time.Millisecond, within: 5 * time.Second,
			want: []string{"did not accept connections", "700ms", "server starting"}},
		{name: "shell exits", command: `/bin/sh -c 'echo half-way >&2; exit 7' sh {port}`, ready: 30 * time.Second, within: 5 * time.Second,
			want: []string{"exit status 7", "half-way"}},
		{name: "missing program", command: "/nonexistent/greeter {port}", ready: time.Second, within: time.Second,
			want: []string{"starting", "/nonexistent/greeter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "pid")
			cmd := tt.command
			if strings.HasPrefix(cmd, py) {
				cmd += " --pidfile " + pidFile
			}
			s, err := newServer(ServerConfig{Command: cmd, ReadyTimeout: tt.ready})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			start := time.Now()
			_, err = s.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0"}, func(*contract.ConnectionEvent) {})
			if took := time.Since(start); took > tt.within {
				t.Errorf("Start took %v, want at most %v", took, tt.within)
			}
			if err == nil {
				t.Fatal("Start succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.HasPrefix(cmd, py) {
				waitGone(t, readPID(t, pidFile))
			}
			if err := s.Stop(context.Background()); err != nil {
				t.Errorf("Stop after failed Start: %v", err)
			}
		})
	}
}

func TestServerStopKillsStubbornGroup(t *testing.T) {
	t.Parallel()
	py := python(t)
	dir := t.TempDir()
	pidFile, childFile := filepath.Join(dir, "pid"), filepath.Join(dir, "child")
	s, err := newServer(ServerConfig{Command: py + " " + testdata(t, "server.py") + " --port {port} --ignore-term --pidfile " + pidFile + " --child-pidfile " + childFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	if _, err := s.Start(context.Background(), &contract.StartRequest{}, func(*contract.ConnectionEvent) {}); err != nil {
		t.Fatal(err)
	}
	pid, child := readPID(t, pidFile), readPID(t, childFile)
	start := time.Now()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > stopGrace+3*time.Second {
		t.Errorf("Stop took %v", took)
	}
	waitGone(t, pid, child)
}

func TestServerProgramExitsWhileRunning(t *testing.T) {
	t.Parallel()
	py := python(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	s, err := newServer(ServerConfig{Command: py + " " + testdata(t, "server.py") + " --port {port} --exit-after-one --pidfile " + pidFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	ctx := context.Background()
	// The probe is the one connection: the program exits after serving it.
	if _, err := s.Start(ctx, &contract.StartRequest{}, func(*contract.ConnectionEvent) {}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, readPID(t, pidFile))
	err = s.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "the server program") || !strings.Contains(err.Error(), "exited with status 0") ||
		!strings.Contains(err.Error(), "connected with:") {
		t.Errorf("Stop after the program exited: error %v, want one saying it exited with status 0, with its output", err)
	}
	if _, err := s.Start(ctx, &contract.StartRequest{}, func(*contract.ConnectionEvent) {}); err != nil {
		t.Fatalf("Start after the program exited: %v", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Error(err)
	}
}

// runningPID is the PID of the program the Server runs, or else of the one
// it kept last (0 if none).
func runningPID(s *Server) int {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	switch {
	case s.running != nil:
		return s.running.cmd.Process.Pid
	case len(s.kept) > 0:
		return s.kept[len(s.kept)-1].cmd.Process.Pid
	}
	return 0
}

// A program is kept running across runs that did not fail: the next Start
// with the same command line reuses it, reports only its own connections,
// and a Start with another command line (here another T) or a plain Stop
// ends it.
func TestServerKeptAcrossRuns(t *testing.T) {
	t.Parallel()
	py := python(t)
	s, err := newServer(ServerConfig{
		Command:      py + " " + testdata(t, "server.py") + " --host {host} --port {port} --idle-ms {idle_timeout_ms} --format colon --log-delay-ms 300",
		ReadyTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	start := func(ev *events, idleMS uint32) string {
		t.Helper()
		resp, err := s.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: idleMS}, ev.report)
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetAddress()
	}

	var first events
	addr := start(&first, 1000)
	pid := runningPID(s)
	// "late..." is logged 300 ms after its name ended, the connection still
	// open: StopKeeping waits for it, so its line cannot reach the next run.
	reply, late := greet(t, addr, "late one")
	if reply != contract.Greeting {
		t.Fatalf("reply %q", reply)
	}
	if err := s.StopKeeping(ctx); err != nil {
		t.Fatal(err)
	}
	if runningPID(s) != pid || gone(pid) {
		t.Fatal("StopKeeping ended the program")
	}

	var second events
	if got := start(&second, 1000); got != addr {
		t.Errorf("reused program at %s, first at %s", got, addr)
	}
	if runningPID(s) != pid {
		t.Fatal("Start with the same command line started a new program")
	}
	if _, err := s.Start(ctx, &contract.StartRequest{}, second.report); err == nil {
		t.Error("a second Start while running succeeded")
	}
	_, local := greet(t, addr, "Bob")
	eventually(t, 10*time.Second, "the second run's event", func() bool { return len(second.snapshot()) > 0 })
	if err := s.StopKeeping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ev := range second.snapshot() {
		if ev.GetRemoteAddress() != local {
			t.Errorf("the second run got the event %v (the first run's client was %s)", ev, late)
		}
	}
	// The first run may or may not have seen its line before it ended (no
	// event is reported after a Stop), but no other.
	for _, ev := range first.snapshot() {
		if ev.GetRemoteAddress() != late {
			t.Errorf("the first run got the event %v", ev)
		}
	}

	// Another T is another command line: a fresh program, while the first
	// stays kept for a later run with its T.
	var third events
	start(&third, 2000)
	other := runningPID(s)
	if other == pid {
		t.Error("a Start with another idle timeout reused the program")
	}
	if err := s.StopKeeping(ctx); err != nil {
		t.Fatal(err)
	}
	var fourth events
	start(&fourth, 1000)
	if runningPID(s) != pid {
		t.Error("the program kept for the first T was not reused")
	}
	// A plain Stop ends the current program; Close every kept one.
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if gone(other) {
		t.Error("Stop ended a kept program other than the current one")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, other)
}

// A kept program that exits between runs is replaced by a fresh one without
// blaming the next run; one that cannot be trusted to log in time (here it
// logs nothing) is not kept.
func TestServerKeptProgramReplaced(t *testing.T) {
	t.Parallel()
	py := python(t)
	ctx := context.Background()
	s, err := newServer(ServerConfig{Command: py + " " + testdata(t, "server.py") + " --host {host} --port {port}", ReadyTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var ev events
	if _, err := s.Start(ctx, &contract.StartRequest{}, ev.report); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the probe's log line", func() bool { return loggedLines(s) == 1 })
	if err := s.StopKeeping(ctx); err != nil {
		t.Fatal(err)
	}
	pid := runningPID(s)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	resp, err := s.Start(ctx, &contract.StartRequest{}, ev.report)
	if err != nil {
		t.Fatalf("Start after the kept program died: %v", err)
	}
	if runningPID(s) == pid || runningPID(s) == 0 {
		t.Fatal("no fresh program")
	}
	if reply, _ := greet(t, resp.GetAddress(), "Ann"); reply != contract.Greeting {
		t.Errorf("reply %q", reply)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	quiet, err := newServer(ServerConfig{Command: py + " " + testdata(t, "server.py") + " --quiet --host {host} --port {port}", ReadyTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.Start(ctx, &contract.StartRequest{}, ev.report); err != nil {
		t.Fatal(err)
	}
	pid = runningPID(quiet)
	if err := quiet.StopKeeping(ctx); err != nil {
		t.Fatal(err)
	}
	if runningPID(quiet) != 0 {
		t.Error("a program that did not log the readiness probe was kept")
	}
	waitGone(t, pid)
}
