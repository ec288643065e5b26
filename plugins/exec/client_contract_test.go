package execadapter

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// greetWith runs one Greet of a client made from cfg against a greeting server
// and fails the test on an adapter error.
func greetWith(t *testing.T, cfg ClientConfig, name string, timeout time.Duration) *contract.GreetResponse {
	t.Helper()
	c, err := newClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := startGreetingServer(t, "greet")
	resp, err := c.Greet(context.Background(), &contract.GreetRequest{Address: srv.addr(), Name: name, TimeoutMs: uint32(timeout.Milliseconds())})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestClientNameOnStdinExactly(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"Bob", "", "trailing space ", "two\nlines", "line end\n", "nul\x00byte", "héllo €"} {
		out := filepath.Join(t.TempDir(), "stdin")
		resp := greetWith(t, ClientConfig{Command: `/bin/sh -c 'cat > "$1"; echo welcome to Asif server' sh ` + out + " {addr}"}, name, 5*time.Second)
		if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_NONE {
			t.Fatalf("name %q: response = %v", name, resp)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != name {
			t.Errorf("standard input = %q, want exactly %q then end of input", got, name)
		}
	}
}

func TestClientNameFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyTo, pathTo := filepath.Join(dir, "copy"), filepath.Join(dir, "path")
	name := "nul\x00 and\nnewline "
	c, err := newClient(ClientConfig{Command: `/bin/sh -c 'cp "$1" "$2"; printf %s "$1" > "$3"; test ! -s /dev/stdin && echo welcome to Asif server' sh {name_file} ` + copyTo + " " + pathTo + " {addr}"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.NameArg {
		t.Error("{name_file} taken for {name}")
	}
	srv := startGreetingServer(t, "greet")
	resp, err := c.Greet(context.Background(), &contract.GreetRequest{Address: srv.addr(), Name: name, TimeoutMs: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_NONE {
		t.Fatalf("response = %v", resp)
	}
	got, _ := os.ReadFile(copyTo)
	if string(got) != name {
		t.Errorf("name file held %q, want %q", got, name)
	}
	path, _ := os.ReadFile(pathTo)
	if _, err := os.Stat(string(path)); !os.IsNotExist(err) {
		t.Errorf("name file %q not removed after the run: %v", path, err)
	}
}

func TestClientNulInNameArgument(t *testing.T) {
	t.Parallel()
	resp := greetWith(t, ClientConfig{Command: "/bin/echo {name} {addr}"}, "a\x00b", time.Second)
	if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_OTHER || !strings.Contains(resp.GetError(), "NUL") || !strings.Contains(resp.GetError(), "{name_file}") {
		t.Errorf("response = %v", resp)
	}
}

func TestClientTimeoutPlaceholder(t *testing.T) {
	t.Parallel()
	with, _ := newClient(ClientConfig{Command: "prog {addr} {timeout_ms}"})
	without, _ := newClient(ClientConfig{Command: "prog {addr}"})
	if caps := with.Describe().GetCapabilities(); !slices.Equal(caps, []string{contract.CapabilityClientText}) {
		t.Errorf("with {timeout_ms}: capabilities %q", caps)
	}
	if caps := without.Describe().GetCapabilities(); !slices.Equal(caps, []string{contract.CapabilityClientText, contract.CapabilityNoTimeout}) {
		t.Errorf("without {timeout_ms}: capabilities %q", caps)
	}
	resp := greetWith(t, ClientConfig{Command: `/bin/sh -c 'echo "$1"' sh {timeout_ms} {addr}`}, "Bob", 1500*time.Millisecond)
	if resp.GetShown() != "1500" {
		t.Errorf("{timeout_ms} = %q, want 1500", resp.GetShown())
	}
}

func TestClientOwnTimeoutVersusKilled(t *testing.T) {
	t.Parallel()
	// A program that honours its timeout reports it in its own words.
	resp := greetWith(t, ClientConfig{Command: `/bin/sh -c 'sleep 0.2; echo "socket.timeout: timed out" >&2; exit 1' sh {timeout_ms} {addr}`}, "Bob", 300*time.Millisecond)
	if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_TIMEOUT || strings.Contains(resp.GetError(), "killed") {
		t.Errorf("own timeout: response = %v", resp)
	}
	// One that overruns is killed ClientKillGrace after its timeout, and
	// the error says so.
	start := time.Now()
	resp = greetWith(t, ClientConfig{Command: `/bin/sh -c 'exec sleep 100' sh {timeout_ms} {addr}`}, "Bob", 300*time.Millisecond)
	took := time.Since(start)
	if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_TIMEOUT || !strings.Contains(resp.GetError(), "killed") || !strings.Contains(resp.GetError(), "overran") {
		t.Errorf("overrun: response = %v", resp)
	}
	if took < 300*time.Millisecond+ClientKillGrace {
		t.Errorf("killed after %v, before timeout + grace", took)
	}
	if took > 300*time.Millisecond+ClientKillGrace+outputGrace+2*time.Second {
		t.Errorf("killed only after %v", took)
	}
}

func TestClientOutcomeMapping(t *testing.T) {
	t.Parallel()
	cfg := ClientConfig{Command: `/bin/sh -c 'echo "connection refused" >&2; exit "$1"' sh CODE {addr}`, Outcomes: []string{"reset=3", "name-too-long=4", "timeout=5"}}
	for code, want := range map[string]contract.ErrorClass{
		"3": contract.ErrorClass_ERROR_CLASS_RESET,
		"4": contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG,
		"5": contract.ErrorClass_ERROR_CLASS_TIMEOUT,
		"6": contract.ErrorClass_ERROR_CLASS_REFUSED, // unmapped: words decide
	} {
		c := cfg
		c.Command = strings.Replace(cfg.Command, "CODE", code, 1)
		if resp := greetWith(t, c, "Bob", 5*time.Second); resp.GetErrorClass() != want {
			t.Errorf("exit %s: class %v, want %v (%s)", code, resp.GetErrorClass(), want, resp.GetError())
		}
	}
}

func TestParseClientOutcomes(t *testing.T) {
	t.Parallel()
	good, err := ParseClientOutcomes([]string{"refused=3", " Closed-Early = 4 ", "other=255", "refused=7"})
	if err != nil || len(good) != 4 || good[4] != contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY || good[7] != contract.ErrorClass_ERROR_CLASS_REFUSED {
		t.Errorf("good mappings: %v, %v", good, err)
	}
	for _, bad := range []string{"refused", "refused=0", "refused=256", "refused=x", "nope=3", "=3", "reset=3,refused=3"} {
		if _, err := ParseClientOutcomes(SplitClientOutcomes(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
		if _, err := newClient(ClientConfig{Command: "prog {addr}", Outcomes: SplitClientOutcomes(bad)}); err == nil {
			t.Errorf("newClient accepted outcome %q", bad)
		}
	}
}

func TestClientLargeOutput(t *testing.T) {
	t.Parallel()
	noise := `i=0; while [ $i -lt 3000 ]; do echo "noise line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done`
	pattern := `reply=(?P<reply>[^\n]*)`
	tests := []struct {
		name, script, pattern string
		class                 contract.ErrorClass
		shown, errHas         string
	}{
		{name: "reply after 1 MiB", script: noise + "; echo reply=welcome to Asif server", pattern: pattern, shown: contract.Greeting},
		{name: "reply before 1 MiB", script: "echo reply=welcome to Asif server; " + noise, pattern: pattern, shown: contract.Greeting},
		{name: "failure words after 1 MiB", script: noise + "; echo 'Error: Connection refused'; exit 1",
			class: contract.ErrorClass_ERROR_CLASS_REFUSED, errHas: "noise line 2999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := greetWith(t, ClientConfig{Command: "/bin/sh -c '" + strings.ReplaceAll(tt.script, "'", `'\''`) + "' sh {addr}", ReplyPattern: tt.pattern}, "Bob", 20*time.Second)
			if resp.GetErrorClass() != tt.class || (tt.shown != "" && resp.GetShown() != tt.shown) {
				t.Errorf("class %v shown %.80q; want %v %q (%.300s)", resp.GetErrorClass(), resp.GetShown(), tt.class, tt.shown, resp.GetError())
			}
			if !strings.Contains(resp.GetError(), tt.errHas) {
				t.Errorf("error does not quote the last lines (%q): %.300s", tt.errHas, resp.GetError())
			}
		})
	}
}

func TestClientErrorEscapesControlBytes(t *testing.T) {
	t.Parallel()
	resp := greetWith(t, ClientConfig{Command: `/bin/sh -c 'printf "\033[2J\033]0;pwned\007 bad\n" >&2; exit 9' sh {addr}`}, "Bob", 5*time.Second)
	if strings.ContainsAny(resp.GetError(), "\x1b\x07") {
		t.Errorf("control bytes reached the error: %q", resp.GetError())
	}
	if !strings.Contains(resp.GetError(), `\x1b[2J`) {
		t.Errorf("escaped output missing: %q", resp.GetError())
	}
}

func TestClientEnvironmentScrubbed(t *testing.T) {
	t.Setenv("PLUGIN_MIN_PORT", "10000")
	t.Setenv("GREETSPEC_PLUGIN", "greeting-protocol-conformance")
	t.Setenv("GREETSPEC_EXEC_CLIENT_CMD", "x")
	t.Setenv("KEEP_ME", "1")
	resp := greetWith(t, ClientConfig{Command: `/bin/sh -c 'env | grep -E "^(PLUGIN_|GREETSPEC_|KEEP_ME|PYTHONUNBUFFERED)" | sort | tr "\n" " "' sh {addr}`}, "Bob", 5*time.Second)
	if got := resp.GetShown(); got != "KEEP_ME=1 PYTHONUNBUFFERED=1 " {
		t.Errorf("program environment (filtered) = %q", got)
	}
}
