package execadapter

import (
	"bytes"
	"context"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// cServer is a greeting server in C that logs with printf and never
// flushes: its stdout is fully buffered on a pipe, line-buffered on a
// terminal.
const cServer = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16)) {
		perror("listen");
		return 1;
	}
	printf("server starting\n");
	for (;;) {
		struct sockaddr_in p;
		socklen_t pl = sizeof p;
		char name[1025];
		size_t n = 0;
		ssize_t r;
		int c = accept(s, (struct sockaddr *)&p, &pl);
		if (c < 0)
			continue;
		while (n < 1024 && (r = read(c, name + n, 1024 - n)) > 0)
			n += r;
		name[n] = 0;
		printf("connected with: %s:%d %s\n", inet_ntoa(p.sin_addr), ntohs(p.sin_port), name);
		if (write(c, "welcome to Asif server", 22) < 0)
			perror("write");
		close(c);
	}
}
`

// goBufioServer is a greeting server in Go that logs through a
// bufio.Writer it flushes only when it is told to stop (SIGTERM).
const goBufioServer = `package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		mu.Lock()
		w.Flush()
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		name, _ := io.ReadAll(io.LimitReader(c, 1024))
		mu.Lock()
		fmt.Fprintf(w, "connected with: %s %s\n", c.RemoteAddr(), name)
		mu.Unlock()
		c.Write([]byte("welcome to Asif server"))
		c.Close()
	}
}
`

// build compiles src (C if lang is "c", else Go) into a temporary directory
// and returns the binary's path, or skips the test without a compiler.
func build(t *testing.T, lang, src string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	var cmd *exec.Cmd
	if lang == "c" {
		cc, err := exec.LookPath("cc")
		if err != nil {
			t.Skip("no C compiler (cc) to build the buffered C server")
		}
		if err := os.WriteFile(filepath.Join(dir, "server.c"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(cc, "-o", bin, "server.c")
	} else {
		goTool, err := exec.LookPath("go")
		if err != nil {
			t.Skip("no go tool to build the bufio Go server")
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module bufioserver\n\ngo 1.21\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(goTool, "build", "-o", bin, ".")
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the %s server: %v\n%s", lang, err, out)
	}
	return bin
}

// startServer starts a Server for cfg and stops it when the test ends.
func startServer(t *testing.T, cfg ServerConfig, ev *events) (*Server, string) {
	t.Helper()
	s, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	resp, err := s.Start(context.Background(), &contract.StartRequest{}, ev.report)
	if err != nil {
		t.Fatal(err)
	}
	return s, resp.GetAddress()
}

// captureLog collects what the adapter logs until the test ends.
//
// It replaces the log package's output, so tests that use it are not
// parallel.
func captureLog(t *testing.T) func() string {
	var mu sync.Mutex
	var buf bytes.Buffer
	log.SetOutput(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}))
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestServerBufferedCProgramThroughPTY(t *testing.T) {
	bin := build(t, "c", cServer)
	for _, viaPipes := range []bool{false, true} {
		name := map[bool]string{false: "pty", true: "pipes"}[viaPipes]
		t.Run(name, func(t *testing.T) {
			pipesOnly = viaPipes
			defer func() { pipesOnly = false }()
			logged := captureLog(t)
			ev := &events{}
			s, addr := startServer(t, ServerConfig{Command: bin + " {port}"}, ev)
			if reply, _ := greet(t, addr, "Bob"); reply != contract.Greeting {
				t.Fatalf("reply %q", reply)
			}
			if !viaPipes {
				// Through the pty the line arrives as it is written.
				eventually(t, 10*time.Second, "no event for the buffered C program's log line", func() bool { return len(ev.snapshot()) == 1 })
				if got := ev.snapshot()[0]; got.GetName() != "Bob" {
					t.Errorf("event %v", got)
				}
				if s.running.viaPTY != true {
					t.Error("not read through a pty")
				}
				return
			}
			// Through pipes stdio holds the line back: this is what the
			// pty is for. The hint says so once the probe has been served.
			eventually(t, 10*time.Second, "no hint about buffered output", func() bool { return strings.Contains(logged(), "block-buffered") })
			if n := len(ev.snapshot()); n != 0 {
				t.Errorf("%d events through pipes from a fully buffered program; the control case is broken", n)
			}
			if !strings.Contains(logged(), "no pseudo-terminal") {
				t.Errorf("the pipe fallback was not announced: %s", logged())
			}
		})
	}
}

func TestServerGoBufioProgram(t *testing.T) {
	// Not parallel: captureLog takes the package's log output.
	bin := build(t, "go", goBufioServer)
	logged := captureLog(t)
	ev := &events{}
	s, addr := startServer(t, ServerConfig{Command: bin + " {addr}"}, ev)
	if reply, _ := greet(t, addr, "Bob"); reply != contract.Greeting {
		t.Fatalf("reply %q", reply)
	}
	// A bufio.Writer holds lines in the program's memory, where no
	// terminal can reach them: the adapter can only say so...
	eventually(t, 10*time.Second, "no hint about buffered output", func() bool { return strings.Contains(logged(), "block-buffered") })
	if n := len(ev.snapshot()); n != 0 {
		t.Fatalf("%d events before the program flushed", n)
	}
	// ...and deliver them, not lose them, once the program flushes: Stop
	// returns only after its output is read.
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ev.snapshot(); len(got) != 1 || got[0].GetName() != "Bob" {
		t.Errorf("events after Stop: %v", got)
	}
}

func TestServerCRLFLogLines(t *testing.T) {
	t.Parallel()
	py := python(t)
	ev := &events{}
	_, addr := startServer(t, ServerConfig{Command: py + " " + testdata(t, "server.py") + " --port {port} --format colon --crlf"}, ev)
	_, local := greet(t, addr, "Bob")
	eventually(t, 10*time.Second, "no event for a CRLF log line", func() bool { return len(ev.snapshot()) == 1 })
	got := ev.snapshot()[0]
	if got.GetName() != "Bob" || got.GetRemoteAddress() != local || strings.ContainsRune(got.GetLogLine(), '\r') {
		t.Errorf("event %v; want name Bob from %s, no CR", got, local)
	}
}

func TestServerEnvironmentScrubbed(t *testing.T) {
	py := python(t)
	t.Setenv("PLUGIN_PROTOCOL_VERSIONS", "1")
	t.Setenv("GREETSPEC_PLUGIN", "greeting-protocol-conformance")
	t.Setenv("KEEP_ME", "1")
	envFile := filepath.Join(t.TempDir(), "env")
	_, _ = startServer(t, ServerConfig{Command: `/bin/sh -c 'env > "$1"; exec "$2" "$3" --port "$4"' sh ` + envFile + " " + py + " " + testdata(t, "server.py") + " {port}"}, &events{})
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := "\n" + string(b)
	for _, bad := range []string{"\nPLUGIN_", "\nGREETSPEC_"} {
		if strings.Contains(env, bad) {
			t.Errorf("the program inherited %s*:\n%s", bad[1:], b)
		}
	}
	for _, good := range []string{"\nKEEP_ME=1\n", "\nPYTHONUNBUFFERED=1\n"} {
		if !strings.Contains(env, good) {
			t.Errorf("the program lacks %s", strings.TrimSpace(good))
		}
	}
}

func TestServerExitMidRunIsReported(t *testing.T) {
	// Not parallel: captureLog takes the package's log output.
	py := python(t)
	ev := &events{}
	s, err := newServer(ServerConfig{Command: py + " " + testdata(t, "server.py") + " --port {port} --crash-after-one"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	_ = captureLog(t)
	// The readiness probe is the one connection it serves before dying.
	if _, err := s.Start(context.Background(), &contract.StartRequest{}, ev.report); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the program did not exit", func() bool {
		select {
		case <-s.running.exited:
			return true
		default:
			return false
		}
	})
	// The exit is announced to the Events stream, with the reason.
	died, why := s.Exited()
	select {
	case <-died:
	case <-time.After(10 * time.Second):
		t.Fatal("Exited's channel not closed after the program died")
	}
	if err := why(); err == nil || !strings.Contains(err.Error(), "RuntimeError: database went away") {
		t.Errorf("Exited reason = %v", err)
	}
	// Start without Stop reports the exit instead of "already started".
	_, err = s.Start(context.Background(), &contract.StartRequest{}, ev.report)
	if err == nil {
		t.Fatal("Start after the program died succeeded")
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	for _, w := range []string{"the server program", "exited with status 1", "RuntimeError: database went away"} {
		if !strings.Contains(first, w) {
			t.Errorf("first line of the error %q lacks %q", first, w)
		}
	}
	if !strings.Contains(err.Error(), "Traceback") {
		t.Errorf("error lacks the traceback: %v", err)
	}
	// Started again and dying again: Stop says so.
	if _, err := s.Start(context.Background(), &contract.StartRequest{}, ev.report); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the program did not exit", func() bool {
		select {
		case <-s.running.exited:
			return true
		default:
			return false
		}
	})
	err = s.Stop(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited with status 1: RuntimeError: database went away") {
		t.Errorf("Stop error = %v", err)
	}
}

func TestServerExitedNotClosedByStop(t *testing.T) {
	t.Parallel()
	py := python(t)
	s, _ := startServer(t, ServerConfig{Command: py + " " + testdata(t, "server.py") + " --port {port}"}, &events{})
	died, _ := s.Exited()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-died:
		t.Error("a program stopped by the adapter counted as exiting on its own")
	default:
	}
}

func TestServerSilentProgramGetsHint(t *testing.T) {
	// Not parallel: captureLog takes the package's log output.
	py := python(t)
	logged := captureLog(t)
	s, err := newServer(ServerConfig{Command: py + " " + testdata(t, "server.py") + " --port {port} --quiet --exit-after-one"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	if _, err := s.Start(context.Background(), &contract.StartRequest{}, func(*contract.ConnectionEvent) {}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "no hint logged", func() bool { return strings.Contains(logged(), "printed nothing at all") })
	err = s.Stop(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited with status 0") || !strings.Contains(err.Error(), "block-buffered") {
		t.Errorf("Stop error = %v", err)
	}
}

func TestServerOutputEscapedInErrors(t *testing.T) {
	t.Parallel()
	s, err := newServer(ServerConfig{Command: `/bin/sh -c 'printf "\033]0;pwned\007\033[2J bad\r\n" >&2; exit 4' sh {port}`})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Start(context.Background(), &contract.StartRequest{}, func(*contract.ConnectionEvent) {})
	if err == nil {
		t.Fatal("Start succeeded")
	}
	if strings.ContainsAny(err.Error(), "\x1b\x07\r") || !strings.Contains(err.Error(), `\x1b[2J bad`) {
		t.Errorf("error not escaped: %q", err)
	}
}

// perlServer logs with print and never sets $|: Perl block-buffers STDOUT
// on a pipe and line-buffers it on a terminal.
const perlServer = `use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1) or die "listen: $!";
print "server starting\n";
while (my $c = $s->accept) {
	my $name = "";
	while (length($name) < 1024) {
		my $n = sysread($c, my $buf, 1024 - length($name));
		last unless $n;
		$name .= $buf;
	}
	print "connected with: " . $c->peerhost . ":" . $c->peerport . " $name\n";
	syswrite($c, "welcome to Asif server");
	close $c;
}
`

func TestServerBufferedPerlProgramThroughPTY(t *testing.T) {
	t.Parallel()
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("no perl")
	}
	script := filepath.Join(t.TempDir(), "server.pl")
	if err := os.WriteFile(script, []byte(perlServer), 0o644); err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	_, addr := startServer(t, ServerConfig{Command: perl + " " + script + " {port}"}, ev)
	_, local := greet(t, addr, "Bob")
	eventually(t, 10*time.Second, "no event for the Perl program's buffered log line", func() bool { return len(ev.snapshot()) == 1 })
	if got := ev.snapshot()[0]; got.GetName() != "Bob" || got.GetRemoteAddress() != local {
		t.Errorf("event %v", got)
	}
}
