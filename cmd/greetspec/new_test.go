package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/specs"
)

// expectAllPass runs the suite with args and checks that it exits 0 with
// every requirement PASS.
func expectAllPass(t *testing.T, args ...string) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	r := runCLI(t, 10*time.Minute, append([]string{"run", "--json-report", report}, args...)...)
	if r.code != 0 {
		t.Fatalf("greetspec %s: exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	vs, err := specs.ReadVerdicts(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Outcome != specs.OutcomePass {
			t.Errorf("%s: %s, want PASS", v.Requirement.ID, v.Outcome)
		}
	}
}

// expectRolePasses checks that run r exited 0 with every requirement of
// role PASS.
func expectRolePasses(t *testing.T, what, role string, r cliResult) {
	t.Helper()
	passed := map[string]bool{}
	for _, id := range requirementLines(r.stdout)[string(specs.OutcomePass)] {
		passed[id] = true
	}
	for _, req := range specs.Catalogue() {
		if req.Role == role && !passed[req.ID] {
			t.Errorf("%s: %s did not pass", what, req.ID)
		}
	}
	if r.code != 0 || t.Failed() {
		t.Fatalf("%s: exit status %d, want 0 with every %s requirement passed\nstdout:\n%s\nstderr:\n%s", what, r.code, role, r.stdout, r.stderr)
	}
}

// Plugins written by `greetspec new` pass the whole suite as generated: a
// Go server and a Go client, each in a module of its own outside the
// repository, and a Python plugin in both roles. CONTRIBUTING.md's
// walk-through scaffolds the Go server and a Python client and runs the
// suite against each (those runs are shared with TestContributingCommands);
// this test adds the Go client and the Python plugin as a server, in one
// run, and makes whatever of the walk-through's runs CONTRIBUTING.md no
// longer shows.
func TestNewScaffoldedPluginsPass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins and runs the suite against them")
	}
	t.Parallel()
	goServer, docServer := documentedRun(t, "run", "--server", "myserver/myserver")
	pyClient, docClient := documentedRun(t, "run", "--client", "/usr/bin/python3 mycli/mycli.py")
	for _, r := range []struct {
		what, role string
		ok         bool
		r          cliResult
	}{{"the Go server", "server", docServer, goServer}, {"the Python client", "client", docClient, pyClient}} {
		if r.ok {
			expectRolePasses(t, "CONTRIBUTING.md's run of "+r.what, r.role, r.r)
		}
	}
	checkout, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	roles := []string{"client"}
	if !docServer {
		roles = append(roles, "server")
	}
	for _, role := range roles {
		name := "my" + role
		r := runCLI(t, time.Minute, "new", role, name, "--dir", filepath.Join(dir, name), "--greetspec-dir", checkout)
		if r.code != 0 || !strings.Contains(r.stdout, "Next:") {
			t.Fatalf("new %s: exit %d\n%s%s", role, r.code, r.stdout, r.stderr)
		}
		for _, step := range [][]string{{"go", "mod", "tidy"}, {"go", "build", "-o", name, "."}} {
			cmd := exec.Command(step[0], step[1:]...)
			cmd.Dir = filepath.Join(dir, name)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s in the scaffolded %s: %v\n%s", strings.Join(step, " "), role, err, out)
			}
		}
	}
	// The Python plugin, where Debian's Python gRPC stack is installed;
	// without it the Go client runs against the reference server.
	server, python := "builtin:reference", ""
	t.Run("python", func(t *testing.T) {
		requireDebianPythonGRPC(t)
		pydir := filepath.Join(dir, "py")
		if r := runCLI(t, time.Minute, "new", "server", "pyserver", "--lang", "python", "--dir", pydir); r.code != 0 {
			t.Fatalf("new --lang python: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// It runs on its own, away from the repository's copy.
		python = "/usr/bin/python3 " + filepath.Join(pydir, "pyserver.py")
		server = python
	})
	goClient := filepath.Join(dir, "myclient", "myclient")
	expectAllPass(t, "--server", server, "--client", goClient)
	if !docServer {
		expectAllPass(t, "--server", filepath.Join(dir, "myserver", "myserver"), "--client", "builtin:reference")
	}
	if !docClient && python != "" {
		expectAllPass(t, "--server", "builtin:reference", "--client", python)
	}
}

// `greetspec new` refuses bad names and never overwrites a file.
func TestNewRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"new", "server", "9lives", "--dir", dir},
		{"new", "server", "my-server", "--dir", dir},
		{"new", "proxy", "x", "--dir", dir},
		{"new", "server", "x", "--lang", "rust", "--dir", dir},
	} {
		if r := runCLI(t, time.Minute, args...); r.code != 2 || r.stderr == "" {
			t.Errorf("greetspec %s: exit %d, stderr %q; want exit 2 with a message", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, time.Minute, "new", "server", "x", "--dir", dir, "--greetspec-dir", "../..")
	if r.code != 2 || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Errorf("over an existing file: exit %d, stderr %q", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "main.go")); string(b) != "mine" {
		t.Errorf("main.go was overwritten")
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		t.Errorf("go.mod was written although the scaffold was refused")
	}
}
