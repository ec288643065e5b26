package execadapter

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "python3 server.py", want: []string{"python3", "server.py"}},
		{in: "  a \t b\n c  ", want: []string{"a", "b", "c"}},
		{in: `'a b' "c d"`, want: []string{"a b", "c d"}},
		{in: `'$(rm -rf /)' "x\"y" "\$HOME" "a\b"`, want: []string{"$(rm -rf /)", `x"y`, "$HOME", `a\b`}},
		{in: `a\ b c\'d`, want: []string{"a b", "c'd"}},
		{in: `pre'mid dle'"post"`, want: []string{"premid dlepost"}},
		{in: `'' ""`, want: []string{"", ""}},
		{in: `a;b|c&d *`, want: []string{"a;b|c&d", "*"}},
		{in: "", want: nil},
		{in: `'open`, wantErr: "unterminated single quote"},
		{in: `"open`, wantErr: "unterminated double quote"},
		{in: `end\`, wantErr: "trailing backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := splitArgs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("splitArgs(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("splitArgs(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestTemplateFill(t *testing.T) {
	t.Parallel()
	vals := map[string]string{
		"host": "127.0.0.1", "port": "9999", "addr": "127.0.0.1:9999",
		"name": `Bob "the" 'builder' $(touch pwned) ; rm x`,
	}
	tests := []struct {
		tmpl string
		want []string
		uses []string
	}{
		{tmpl: "prog {host} {port}", want: []string{"prog", "127.0.0.1", "9999"}, uses: []string{"host", "port"}},
		{tmpl: "prog --addr={addr} --hp {host}:{port}", want: []string{"prog", "--addr=127.0.0.1:9999", "--hp", "127.0.0.1:9999"}, uses: []string{"addr", "host", "port"}},
		// The name stays one literal argument whatever it contains, quoted or not.
		{tmpl: "prog {name}", want: []string{"prog", vals["name"]}, uses: []string{"name"}},
		{tmpl: `prog "--name={name}"`, want: []string{"prog", "--name=" + vals["name"]}, uses: []string{"name"}},
		{tmpl: `prog '{{name}}' {{x}} '{print $1}'`, want: []string{"prog", "{name}", "{x}", "{print $1}"}},
		{tmpl: `prog {} {Name} {1}`, want: []string{"prog", "{}", "{Name}", "{1}"}},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tmpl, err := parseTemplate(tt.tmpl, clientPlaceholders...)
			if err != nil {
				t.Fatal(err)
			}
			if got := tmpl.fill(vals); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fill = %q, want %q", got, tt.want)
			}
			for _, u := range tt.uses {
				if !tmpl.uses[u] {
					t.Errorf("uses[%s] = false", u)
				}
			}
			if len(tmpl.uses) != len(tt.uses) {
				t.Errorf("uses = %v, want %v", tmpl.uses, tt.uses)
			}
		})
	}
}

func TestNewServerAndClientValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     func() error
		wantErr string
	}{
		{"server empty", func() error { _, err := NewServer(ServerConfig{}); return err }, EnvServerCmd},
		{"server blank", func() error { _, err := NewServer(ServerConfig{Command: "  "}); return err }, "empty"},
		{"server name placeholder", func() error { _, err := NewServer(ServerConfig{Command: "prog {name}"}); return err }, "unknown placeholder {name}"},
		{"server typo", func() error { _, err := NewServer(ServerConfig{Command: "prog {prot}"}); return err }, "unknown placeholder {prot}"},
		{"server quote", func() error { _, err := NewServer(ServerConfig{Command: "prog 'x"}); return err }, "unterminated single quote"},
		{"server bad regexp", func() error { _, err := NewServer(ServerConfig{Command: "p {port}", LogPattern: "("}); return err }, "log pattern"},
		{"server no groups", func() error {
			_, err := NewServer(ServerConfig{Command: "p {port}", LogPattern: "connected (.*)"})
			return err
		}, "(?P<addr>"},
		{"server no port", func() error { _, err := NewServer(ServerConfig{Command: "prog --host {host}"}); return err }, "neither {port} nor {addr}"},
		{"server negative", func() error { _, err := NewServer(ServerConfig{Command: "p {port}", ReadyTimeout: -1}); return err }, "negative"},
		{"client empty", func() error { _, err := NewClient(ClientConfig{}); return err }, EnvClientCmd},
		{"client typo", func() error { _, err := NewClient(ClientConfig{Command: "prog {nmae}"}); return err }, "unknown placeholder {nmae}"},
		{"client bad regexp", func() error { _, err := NewClient(ClientConfig{Command: "p", ReplyPattern: "[x"}); return err }, "reply pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := NewServer(ServerConfig{Command: "prog --host {host} --port {port} --addr {addr} --t {idle_timeout_ms}"}); err != nil {
		t.Errorf("valid server template rejected: %v", err)
	}
}

func TestClientNameArgIsDerived(t *testing.T) {
	t.Parallel()
	for tmpl, want := range map[string]bool{"prog {addr} {name}": true, "prog {addr}": false, "prog {{name}}": false} {
		c, err := newClient(ClientConfig{Command: tmpl, NameArg: !want})
		if err != nil {
			t.Fatal(err)
		}
		if c.cfg.NameArg != want {
			t.Errorf("%q: NameArg = %v, want %v", tmpl, c.cfg.NameArg, want)
		}
	}
}
