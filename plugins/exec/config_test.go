package execadapter

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv(EnvServerCmd, "python3 server.py {port}")
	t.Setenv(EnvServerLogPattern, `(?P<addr>\S+) (?P<name>.*)`)
	t.Setenv(EnvReadyTimeout, "1500ms")
	t.Setenv(EnvClientCmd, "python3 client.py {host} {port} {name}")
	t.Setenv(EnvClientReplyPattern, "reply=(?P<reply>.*)")
	t.Setenv(EnvDir, "/some/dir")

	sc, err := ServerConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := ServerConfig{Command: "python3 server.py {port}", LogPattern: `(?P<addr>\S+) (?P<name>.*)`, ReadyTimeout: 1500 * time.Millisecond, Dir: "/some/dir"}
	if sc != want {
		t.Errorf("ServerConfigFromEnv = %+v, want %+v", sc, want)
	}
	cc, err := ClientConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	wantC := ClientConfig{Command: "python3 client.py {host} {port} {name}", ReplyPattern: "reply=(?P<reply>.*)", NameArg: true, Dir: "/some/dir"}
	if !reflect.DeepEqual(cc, wantC) {
		t.Errorf("ClientConfigFromEnv = %+v, want %+v", cc, wantC)
	}
	p, err := PluginsFromEnv()
	if err != nil || p.Server == nil || p.Client == nil {
		t.Errorf("PluginsFromEnv = %+v, %v; want both roles", p, err)
	}

	t.Setenv(EnvReadyTimeout, "ten seconds")
	if _, err := ServerConfigFromEnv(); err == nil || !strings.Contains(err.Error(), EnvReadyTimeout) {
		t.Errorf("bad %s: error = %v", EnvReadyTimeout, err)
	}
	if _, err := PluginsFromEnv(); err == nil {
		t.Error("PluginsFromEnv accepted a bad ready timeout")
	}
}

func TestPluginsFromEnvRoles(t *testing.T) {
	t.Setenv(EnvServerCmd, "")
	t.Setenv(EnvClientCmd, "")
	if _, err := PluginsFromEnv(); err == nil {
		t.Error("PluginsFromEnv with nothing set: no error")
	}
	t.Setenv(EnvClientCmd, "client {addr}")
	p, err := PluginsFromEnv()
	if err != nil || p.Server != nil || p.Client == nil {
		t.Errorf("client only: %+v, %v", p, err)
	}
	t.Setenv(EnvClientCmd, "client {bogus}")
	if _, err := PluginsFromEnv(); err == nil || !strings.Contains(err.Error(), "{bogus}") {
		t.Errorf("bad client template: error = %v", err)
	}
}

func TestDefaultLogPattern(t *testing.T) {
	t.Parallel()
	s, err := newServer(ServerConfig{Command: "prog {port}"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line     string
		match    bool
		addr     string
		name     string
		nameRaw  string
		wantLine string
	}{
		{line: "connected with:  ('127.0.0.1', 50000) Bob", match: true, addr: "127.0.0.1:50000", name: "Bob"},
		{line: "connected with: 127.0.0.1:50000 Bob", match: true, addr: "127.0.0.1:50000", name: "Bob"},
		{line: "connected with:  ('::1', 50000, 0, 0) Bob", match: true, addr: "[::1]:50000", name: "Bob"},
		{line: "connected with: [::1]:50000 Bob", match: true, addr: "[::1]:50000", name: "Bob"},
		{line: "2024-01-01 INFO connected with: 10.0.0.1:1 Bob Smith ", match: true, addr: "10.0.0.1:1", name: "Bob Smith "},
		{line: "connected with:  ('127.0.0.1', 50000) ", match: true, addr: "127.0.0.1:50000", name: ""},
		{line: "connected with: 127.0.0.1:50000", match: true, addr: "127.0.0.1:50000", name: ""},
		{line: "connected with: 127.0.0.1:50000   two spaces", match: true, addr: "127.0.0.1:50000", name: "  two spaces"},
		{line: "connected with: 127.0.0.1:50000 ('x', 1) héllo 😀", match: true, addr: "127.0.0.1:50000", name: "('x', 1) héllo 😀"},
		{line: "connected with: 127.0.0.1:50000 a\xe2\x82b\xff", match: true, addr: "127.0.0.1:50000", name: "a\uFFFDb\uFFFD", nameRaw: "a\xe2\x82b\xff", wantLine: "connected with: 127.0.0.1:50000 a\uFFFDb\uFFFD"},
		{line: "server starting"},
		{line: "connected with: nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			ev := s.event([]byte(tt.line))
			if !tt.match {
				if ev != nil {
					t.Fatalf("matched: %v", ev)
				}
				return
			}
			if ev == nil {
				t.Fatal("no match")
			}
			raw, line := tt.name, tt.line
			if tt.nameRaw != "" {
				raw, line = tt.nameRaw, tt.wantLine
			}
			if ev.RemoteAddress != tt.addr || ev.Name != tt.name || string(ev.NameRaw) != raw || ev.LogLine != line {
				t.Errorf("event = {addr %q name %q raw %q line %q}, want {%q %q %q %q}",
					ev.RemoteAddress, ev.Name, ev.NameRaw, ev.LogLine, tt.addr, tt.name, raw, line)
			}
			if len(ev.Reply) != 0 || ev.NameEnd != 0 || ev.Error != "" {
				t.Errorf("fields the adapter cannot see are set: %v", ev)
			}
		})
	}
}

func TestCustomLogPattern(t *testing.T) {
	t.Parallel()
	s, err := newServer(ServerConfig{Command: "prog {port}", LogPattern: `^peer=(?P<addr>\S+) name="(?P<name>.*)"$`})
	if err != nil {
		t.Fatal(err)
	}
	ev := s.event([]byte(`peer=127.0.0.1:4242 name="Al Ice"`))
	if ev == nil || ev.RemoteAddress != "127.0.0.1:4242" || ev.Name != "Al Ice" {
		t.Fatalf("event = %v", ev)
	}
	if s.event([]byte("connected with: 127.0.0.1:1 Bob")) != nil {
		t.Error("a custom pattern still matches the default form")
	}
}

func TestFindReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		stdout  string
		want    string
		found   bool
	}{
		{name: "tutorial prompt", stdout: "Enter the name: welcome to Asif server\n", want: "welcome to Asif server", found: true},
		{name: "no prompt", stdout: "welcome to Asif server\n", want: "welcome to Asif server", found: true},
		{name: "CRLF", stdout: "welcome to Asif server\r\n", want: "welcome to Asif server", found: true},
		{name: "one line ending only", stdout: "welcome\n\n", want: "welcome\n", found: true},
		{name: "no newline", stdout: "welcome", want: "welcome", found: true},
		{name: "prompt on its own line", stdout: "Enter your name:\nwelcome to Asif server\n", want: "welcome to Asif server", found: true},
		{name: "Name prompt", stdout: "Name: x\n", want: "x", found: true},
		{name: "all of stdout", stdout: "connecting\nwelcome\n", want: "connecting\nwelcome", found: true},
		{name: "spaces kept", stdout: "Enter the name:  padded \n", want: " padded ", found: true},
		{name: "inner CR kept", stdout: "a\rb\n", want: "a\rb", found: true},
		{name: "prompt only", stdout: "Enter the name: ", found: false},
		{name: "prompt and newline only", stdout: "Enter the name: \n", found: false},
		{name: "empty line", stdout: "\n", found: false},
		{name: "nothing", stdout: "", found: false},
		{name: "pattern group", pattern: `reply=(?P<reply>[^\n]*)`, stdout: "log\nreply=hello there\nbye\n", want: "hello there", found: true},
		{name: "pattern whole", pattern: `(?s)welcome.*server`, stdout: "x welcome\nto server y", want: "welcome\nto server", found: true},
		{name: "pattern miss", pattern: `reply=(?P<reply>.*)`, stdout: "welcome\n", found: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newClient(ClientConfig{Command: "prog", ReplyPattern: tt.pattern})
			if err != nil {
				t.Fatal(err)
			}
			got, found := c.findReply([]byte(tt.stdout), []byte(tt.stdout), false)
			if string(got) != tt.want || found != tt.found {
				t.Errorf("findReply(%q) = %q, %v; want %q, %v", tt.stdout, got, found, tt.want, tt.found)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	s, _ := newServer(ServerConfig{Command: "python3 server.py {port}"})
	c, _ := newClient(ClientConfig{Command: "python3 client.py {addr}"})
	if got := s.Describe().GetName(); got != "exec: python3 server.py {port}" {
		t.Errorf("server Describe = %q", got)
	}
	if got := c.Describe().GetName(); got != "exec: python3 client.py {addr}" {
		t.Errorf("client Describe = %q", got)
	}
}
