package execadapter

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// trickyName must reach the server byte for byte: a shell would split it,
// expand $(...) and run the touch.
const trickyName = `Bob "the" 'builder' $(touch PWNED) ; echo \ x`

func TestClientGreets(t *testing.T) {
	t.Parallel()
	py := python(t)
	client := py + " " + testdata(t, "client.py") + " "
	tests := []struct {
		name     string
		template string
		greet    string
		wantArgv func(host, port string) []string
	}{
		{name: "prompt, name on stdin", template: client + "{host} {port}", greet: "Bob"},
		{name: "silent, name on stdin", template: client + "--silent {host} {port}", greet: "Ann Marie"},
		{name: "name argument", template: client + "{host} {port} {name}", greet: "Bob"},
		{name: "tricky name argument", template: client + "--argv-out ARGV {host} {port} {name}", greet: trickyName,
			wantArgv: func(host, port string) []string {
				return []string{"--argv-out", "ARGV", host, port, trickyName}
			}},
		{name: "tricky name quoted in template", template: client + `--argv-out ARGV {host} {port} "{name}"`, greet: trickyName},
		{name: "tricky name on stdin", template: client + "{host} {port}", greet: trickyName},
		{name: "unicode name", template: client + "{host} {port} {name}", greet: "héllo 😀 €"},
		{name: "empty name argument", template: client + "--silent {host} {port} {name}", greet: ""},
		{name: "addr placeholder", template: `/bin/sh -c 'test "$1" = "$2:$3" && echo welcome to Asif server' sh {addr} {host} {port}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			srv := startGreetingServer(t, "greet")
			argvFile := filepath.Join(dir, "argv.json")
			c, err := newClient(ClientConfig{Command: strings.ReplaceAll(tt.template, "ARGV", argvFile), Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Greet(context.Background(), &contract.GreetRequest{Address: srv.addr(), Name: tt.greet, TimeoutMs: 10000})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_NONE || resp.GetShown() != contract.Greeting || string(resp.GetReply()) != contract.Greeting {
				t.Fatalf("response = %v", resp)
			}
			if strings.HasPrefix(tt.template, py) {
				if got := srv.received(); len(got) != 1 || got[0] != tt.greet {
					t.Errorf("server received %q, want [%q]", got, tt.greet)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "PWNED")); err == nil {
				t.Error("the name was run by a shell")
			}
			if tt.wantArgv != nil {
				b, err := os.ReadFile(argvFile)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatal(err)
				}
				host, port, _ := net.SplitHostPort(srv.addr())
				want := tt.wantArgv(host, port)
				want[1] = argvFile
				if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
					t.Errorf("program argv = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestClientFailures(t *testing.T) {
	t.Parallel()
	py := python(t)
	client := py + " " + testdata(t, "client.py") + " "
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	serving := func(mode string) func(t *testing.T) string {
		return func(t *testing.T) string { return startGreetingServer(t, mode).addr() }
	}
	tests := []struct {
		name      string
		template  string
		server    func(t *testing.T) string
		greet     string
		timeoutMs uint32
		class     contract.ErrorClass
		reply     string
		shown     string
		errHas    []string
	}{
		{name: "refused", template: client + "{host} {port}", server: refused, greet: "Bob",
			class: contract.ErrorClass_ERROR_CLASS_REFUSED, errHas: []string{"refused", "exit status 1", "ConnectionRefusedError"}},
		{name: "closed early", template: client + "{host} {port}", server: serving("close"), greet: "Bob",
			class: contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY, errHas: []string{"without printing a reply", "Enter the name:"}},
		{name: "reset", template: client + "{host} {port}", server: serving("reset"), greet: "Bob",
			class: contract.ErrorClass_ERROR_CLASS_RESET, errHas: []string{"reset", "ConnectionResetError"}},
		{name: "other failure", template: `/bin/sh -c 'echo oops >&2; exit 4'`, server: serving("greet"),
			class: contract.ErrorClass_ERROR_CLASS_OTHER, errHas: []string{"exit status 4", "oops"}},
		{name: "failure after a reply", template: `/bin/sh -c 'echo partial; exit 5'`, server: serving("greet"),
			class: contract.ErrorClass_ERROR_CLASS_OTHER, reply: "partial", shown: "partial", errHas: []string{"exit status 5"}},
		{name: "program timed out itself", template: `/bin/sh -c 'echo "socket.timeout: timed out" >&2; exit 1'`, server: serving("greet"),
			class: contract.ErrorClass_ERROR_CLASS_TIMEOUT, errHas: []string{"timed out"}},
		{name: "silent success", template: "/bin/sh -c true", server: serving("greet"),
			class: contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY},
		{name: "invalid UTF-8 reply", template: `/bin/sh -c 'printf "ok \342\202 \377\n"'`, server: serving("greet"),
			class: contract.ErrorClass_ERROR_CLASS_NONE, reply: "ok \xe2\x82 \xff", shown: "ok \uFFFD \uFFFD"},
		{name: "NUL in name argument", template: client + "{host} {port} {name}", server: serving("greet"), greet: "a\x00b",
			class: contract.ErrorClass_ERROR_CLASS_OTHER, errHas: []string{"NUL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := newClient(ClientConfig{Command: tt.template})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Greet(context.Background(), &contract.GreetRequest{Address: tt.server(t), Name: tt.greet, TimeoutMs: tt.timeoutMs})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetErrorClass() != tt.class || string(resp.GetReply()) != tt.reply || resp.GetShown() != tt.shown {
				t.Errorf("response = %v; want class %v reply %q shown %q", resp, tt.class, tt.reply, tt.shown)
			}
			for _, w := range tt.errHas {
				if !strings.Contains(resp.GetError(), w) {
					t.Errorf("error %q does not mention %q", resp.GetError(), w)
				}
			}
		})
	}
}

func TestClientTimeoutKillsGroup(t *testing.T) {
	t.Parallel()
	py := python(t)
	dir := t.TempDir()
	pidFile, childFile := filepath.Join(dir, "pid"), filepath.Join(dir, "child")
	srv := startGreetingServer(t, "greet")
	c, err := newClient(ClientConfig{Command: py + " " + testdata(t, "client.py") +
		" --hang --pidfile " + pidFile + " --child-pidfile " + childFile + " {host} {port}"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := c.Greet(context.Background(), &contract.GreetRequest{Address: srv.addr(), Name: "Bob", TimeoutMs: 700})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if took > 700*time.Millisecond+ClientKillGrace+outputGrace+time.Second {
		t.Errorf("Greet took %v with a 700ms timeout", took)
	}
	if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_TIMEOUT || !strings.Contains(resp.GetError(), "700ms") || !strings.Contains(resp.GetError(), "Enter the name:") {
		t.Errorf("response = %v", resp)
	}
	waitGone(t, readPID(t, pidFile), readPID(t, childFile))
}

func TestClientLeftoverChildIsKilled(t *testing.T) {
	t.Parallel()
	// The program exits at once but leaves a child holding its stdout: the
	// reply still comes back within a bounded time and the child dies.
	dir := t.TempDir()
	childFile := filepath.Join(dir, "child")
	srv := startGreetingServer(t, "greet")
	c, err := newClient(ClientConfig{Command: `/bin/sh -c 'sleep 1000 & echo $! > "$1"; echo welcome to Asif server' sh ` + childFile + " {addr}"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := c.Greet(context.Background(), &contract.GreetRequest{Address: srv.addr(), TimeoutMs: 20000})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > outputGrace+2*time.Second {
		t.Errorf("Greet took %v", took)
	}
	if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_NONE || resp.GetShown() != contract.Greeting {
		t.Errorf("response = %v", resp)
	}
	waitGone(t, readPID(t, childFile))
}

func TestClientCancelledContext(t *testing.T) {
	t.Parallel()
	c, err := newClient(ClientConfig{Command: "/bin/sh -c 'sleep 1000' {addr}"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Greet(ctx, &contract.GreetRequest{Address: "127.0.0.1:1"}); err == nil {
		t.Error("Greet with a cancelled context returned no error")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Greet took %v after its context ended", took)
	}
}

func TestClientBadAddress(t *testing.T) {
	t.Parallel()
	c, err := newClient(ClientConfig{Command: "prog {addr}"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Greet(context.Background(), &contract.GreetRequest{Address: "no-port"}); err == nil {
		t.Error("Greet accepted an address without a port")
	}
}
