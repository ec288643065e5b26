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

// Plugins written by `greetspec new` pass the whole suite as generated: a
// Go server and client, each in a module of its own outside the
// repository, and a Python plugin.
func TestNewScaffoldedPluginsPass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two plugins and runs the suite twice")
	}
	t.Parallel()
	checkout, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, role := range []string{"server", "client"} {
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
	expectAllPass(t, "--server", filepath.Join(dir, "myserver", "myserver"), "--client", filepath.Join(dir, "myclient", "myclient"))

	t.Run("python", func(t *testing.T) {
		requireDebianPythonGRPC(t)
		pydir := filepath.Join(dir, "py")
		if r := runCLI(t, time.Minute, "new", "server", "pyserver", "--lang", "python", "--dir", pydir); r.code != 0 {
			t.Fatalf("new --lang python: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// It runs on its own, away from the repository's copy.
		plugin := "/usr/bin/python3 " + filepath.Join(pydir, "pyserver.py")
		expectAllPass(t, "--server", plugin, "--client", plugin)
	})
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
