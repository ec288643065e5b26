// Package scaffold writes a new greetspec plugin from templates embedded in
// the greetspec binary (`greetspec new`): a Go plugin in a module of its own
// that imports only the public contract package, or a native Python plugin
// with the generated gRPC stubs it needs. Generated plugins are correct as
// written and pass the whole suite; the places to change are marked CHANGE.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/greetspec/greetspec/plugins/python"
)

//go:embed templates
var templates embed.FS

// Options say what to write.
type Options struct {
	// Role is "server" or "client".
	Role string
	// Name is the plugin's name: a Go module and binary name, or a Python
	// module name, so it must be an identifier.
	Name string
	// Lang is "go" or "python".
	Lang string
	// Dir is the directory to write into; it is created if missing.
	Dir string
	// GreetspecDir is a greetspec checkout for the Go module's replace
	// directive; empty leaves the directive commented out.
	GreetspecDir string
}

// identifier is what Name must match: valid in Go and Python alike.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks o and says what is wrong in words a user can act on.
func (o Options) Validate() error {
	switch {
	case o.Role != "server" && o.Role != "client":
		return fmt.Errorf("role %q: want server or client", o.Role)
	case !identifier.MatchString(o.Name):
		return fmt.Errorf("name %q is not a valid identifier (letters, digits and _, not starting with a digit)", o.Name)
	case o.Lang != "go" && o.Lang != "python":
		return fmt.Errorf("language %q: want go or python", o.Lang)
	case o.Dir == "":
		return errors.New("no directory to write into")
	}
	return nil
}

// Files returns the files o would write, relative to o.Dir, with their
// contents.
func (o Options) Files() (map[string][]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	if o.Lang == "python" {
		for _, f := range []string{"greet_pb2.py", "greet_pb2_grpc.py"} {
			b, err := fs.ReadFile(python.Files, f)
			if err != nil {
				return nil, err
			}
			out[f] = b
		}
		b, err := fs.ReadFile(python.Files, "greet_plugin.py")
		if err != nil {
			return nil, err
		}
		out[o.Name+".py"] = pythonHeader(o, b)
		return out, nil
	}
	for name, tmpl := range map[string]string{"go.mod": "go.mod.tmpl", "main.go": o.Role + ".go.tmpl"} {
		t, err := template.ParseFS(templates, "templates/go/"+tmpl)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, o); err != nil {
			return nil, err
		}
		out[name] = buf.Bytes()
	}
	if o.GreetspecDir != "" {
		// The checkout's checksums cover the modules the plugin needs, so
		// `go mod tidy` only resolves versions.
		if sum, err := os.ReadFile(filepath.Join(o.GreetspecDir, "go.sum")); err == nil {
			out["go.sum"] = sum
		}
	}
	return out, nil
}

// pythonHeader adds to the plugin's docstring where the protocol logic of
// the chosen role lives.
func pythonHeader(o Options, src []byte) []byte {
	where := "GreetServer._exchange (the name, the log line, the greeting) and GreetServer._drain (the close)"
	if o.Role == "client" {
		where = "greet() (send, half-close, read the reply, classify failures)"
	}
	note := fmt.Sprintf("\n%s: written by `greetspec new %s %s --lang python`. It serves both\nroles and passes the whole suite as generated. CHANGE the protocol logic in\n%s; keep the go-plugin plumbing below it.\n", o.Name, o.Role, o.Name, where)
	s := string(src)
	if i := strings.Index(s, `"""`); i >= 0 {
		if j := strings.Index(s[i+3:], `"""`); j >= 0 {
			k := i + 3 + j
			return []byte(s[:k] + note + s[k:])
		}
	}
	return src
}

// Write writes o's files into o.Dir and returns their paths. It refuses to
// overwrite any existing file and then writes nothing.
func Write(o Options) ([]string, error) {
	files, err := o.Files()
	if err != nil {
		return nil, err
	}
	var paths []string
	for name := range files {
		p := filepath.Join(o.Dir, name)
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s exists: refusing to overwrite it", p)
		}
		paths = append(paths, p)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	for name, b := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".py") && !strings.HasPrefix(name, "greet_pb2") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(o.Dir, name), b, mode); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// NextSteps returns the commands to build and test what Write wrote;
// greetspec is how the user invokes greetspec.
func NextSteps(o Options, greetspec string) string {
	flag := "--" + o.Role
	if o.Lang == "python" {
		script := filepath.Join(o.Dir, o.Name+".py")
		return fmt.Sprintf("Next:\n  %s run %s '/usr/bin/python3 %s'\n(needs Debian's python3-grpcio, python3-protobuf and python3-cryptography)\n", greetspec, flag, script)
	}
	bin := filepath.Join(o.Dir, o.Name)
	steps := fmt.Sprintf("Next:\n  (cd %s && go mod tidy && go build -o %s .)\n  %s run %s %s\n", o.Dir, o.Name, greetspec, flag, bin)
	if o.GreetspecDir == "" {
		steps = "Edit go.mod first: its replace directive must point at a greetspec checkout.\n" + steps
	}
	return steps
}
