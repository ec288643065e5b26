package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/specs"
)

// startAttached starts a plugin by hand in attach mode, as a developer
// would under a debugger, and returns the details it printed. The plugin is
// ended when the test ends.
func startAttached(t *testing.T, cmd *exec.Cmd, env ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd.Env = append(append(os.Environ(), env...), contract.AttachEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
	}()
	select {
	case line := <-lines:
		details, ok := strings.CutPrefix(strings.TrimSpace(line), contract.AttachLinePrefix)
		if !ok {
			t.Fatalf("the plugin printed %q, not its attach details", line)
		}
		return strings.TrimSpace(details), cmd
	case <-time.After(30 * time.Second):
		t.Fatal("the plugin printed no attach details within 30s")
	}
	return "", nil
}

// verdictsOf runs the suite with args and returns the outcome of each
// requirement.
func verdictsOf(t *testing.T, args ...string) map[string]specs.Outcome {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	r := runCLI(t, 10*time.Minute, append([]string{"run", "--json-report", report}, args...)...)
	vs, err := specs.ReadVerdicts(report)
	if err != nil {
		t.Fatalf("greetspec %s: exit %d, %v\n%s%s", strings.Join(args, " "), r.code, err, r.stdout, r.stderr)
	}
	out := map[string]specs.Outcome{}
	for _, v := range vs {
		out[v.Requirement.ID] = v.Outcome
	}
	return out
}

// A plugin started by hand in attach mode gets the same verdict as the same
// plugin spawned by greetspec, and is left running afterwards: in Go (the
// built-in reference, served by this test binary) and in Python.
func TestAttachMode(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The spawned reference plugins' verdicts: the shared serial run of the
	// catalogue (the defaults spawn builtin:reference in both roles).
	serial, _ := referenceRuns(t)
	spawned := map[string]specs.Outcome{}
	vs, err := specs.ReadVerdicts(serial.report)
	if err != nil {
		t.Fatalf("the reference run: exit %d, %v\n%s%s", serial.result.code, err, serial.result.stdout, serial.result.stderr)
	}
	for _, v := range vs {
		spawned[v.Requirement.ID] = v.Outcome
	}
	if len(spawned) == 0 {
		t.Fatal("the reference run has no verdicts")
	}

	details, plugin := startAttached(t, exec.Command(exe), contract.BuiltinEnv+"=reference")
	attached := verdictsOf(t, "--attach-server", details, "--attach-client", details)
	for id, want := range spawned {
		if attached[id] != want {
			t.Errorf("%s: attached %s, spawned %s", id, attached[id], want)
		}
	}
	if err := plugin.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the attached plugin did not outlive the run: %v", err)
	}

	t.Run("python", func(t *testing.T) {
		requireDebianPythonGRPC(t)
		details, _ := startAttached(t, exec.Command("/usr/bin/python3", "../../plugins/python/greet_plugin.py"))
		py := verdictsOf(t, "--attach-server", details, "--attach-client", details)
		for id, want := range spawned {
			if py[id] != want {
				t.Errorf("%s: attached Python plugin %s, spawned reference %s", id, py[id], want)
			}
		}
	})
}

// Bad attach details are a usage error before anything runs.
func TestAttachBadDetails(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"not json", `{"network":"tcp","address":"127.0.0.1:1","pid":0,"protocol_version":1}`, `{"network":"tcp","address":"127.0.0.1:1","pid":1,"protocol_version":9}`} {
		if r := runCLI(t, time.Minute, "run", "--attach-server", d); r.code != 2 {
			t.Errorf("--attach-server %q: exit %d, want 2\n%s", d, r.code, r.stderr)
		}
	}
}
