package clienttext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/testsupport"
	"github.com/greetspec/greetspec/specs"
)

// clientRequirements are the requirements of the client role.
func clientRequirements() []string {
	var ids []string
	for _, r := range specs.Catalogue() {
		if r.Role == "client" {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// greetspec builds the greetspec binary into a temporary directory, once
// per test binary run (the tests run in parallel: each run mostly waits for
// the program under test).
func greetspec(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs greetspec against a client program: not in -short mode")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH: cannot build greetspec")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "greetspec-clienttext-")
		if err != nil {
			buildErr = err
			return
		}
		builtDir = dir
		bin := filepath.Join(dir, "greetspec")
		cmd := exec.Command(goTool, "build", "-o", bin, "github.com/greetspec/greetspec/cmd/greetspec")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building greetspec: %v\n%s", err, out)
			return
		}
		built = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

var (
	buildOnce       sync.Once
	built, builtDir string
	buildErr        error
)

func TestMain(m *testing.M) {
	// Every test runs greetspec against a Python program and mostly waits
	// for it: all of them (eight runs) go at once.
	testsupport.WaitBoundParallel(8)
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// python3 returns the Python interpreter, or skips the test: the system's
// /usr/bin/python3 when there is one, else python3 from PATH. The program
// under test starts once per spec, hundreds of times, and a version
// manager's shim first on PATH (pyenv's is a shell script) costs several
// times the interpreter's own start-up each time (157 ms of CPU against
// 23 ms, measured).
func python3(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	return py
}

// run runs `greetspec run` against the test client program with args added
// to its template, selected by labelFilter, and returns its exit status,
// output, verdicts by requirement and raw JSON report.
func run(t *testing.T, template, labelFilter string) (int, string, map[string]specs.Verdict, []byte) {
	t.Helper()
	bin := greetspec(t)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	args := []string{"run", "--client-cmd", template, "--cmd-dir", testdata, "--json-report", report, "--no-repro"}
	if labelFilter != "" {
		args = append(args, "--label-filter", labelFilter)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("greetspec %q: %v\n%s", args, err, out.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("greetspec %q did not finish within 5 minutes\n%s", args, out.String())
	}
	verdicts, err := specs.ReadVerdicts(report)
	if err != nil {
		t.Fatalf("greetspec %q (exit status %d) left no readable report: %v\n%s", args, code, err, out.String())
	}
	raw, _ := os.ReadFile(report)
	byID := map[string]specs.Verdict{}
	for _, v := range verdicts {
		byID[v.Requirement.ID] = v
	}
	return code, out.String(), byID, raw
}

// TestCorrectClientProgramPasses runs every client spec against a correct
// client program told its timeout: every client requirement must pass.
func TestCorrectClientProgramPasses(t *testing.T) {
	t.Parallel()
	py := python3(t)
	code, out, verdicts, _ := run(t, py+" client.py {host} {port} {timeout_ms}", "client")
	for _, id := range clientRequirements() {
		if got := verdicts[id].Outcome; got != specs.OutcomePass {
			t.Errorf("%s: %s, want %s", id, got, specs.OutcomePass)
		}
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestFaultyClientProgramsFail runs each variant of the client program that
// breaks one requirement against that requirement's specs: it must fail.
func TestFaultyClientProgramsFail(t *testing.T) {
	t.Parallel()
	py := python3(t)
	for _, c := range []struct{ fault, requirement, message string }{
		{"strict-utf8", "CLI-UTF8-1", "the client reported ERROR_CLASS_OTHER"},
		{"sends-long", "CLI-LIMIT-1", "the client connected and sent"},
		{"mute-refusal", "CLI-LIMIT-1", "--client-outcome name-too-long=STATUS"},
		{"ignores-timeout", "CLI-TIMEOUT-1", "give up by itself"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			t.Parallel()
			code, out, verdicts, _ := run(t, py+" client.py {host} {port} {timeout_ms} --fault "+c.fault, c.requirement)
			if got := verdicts[c.requirement].Outcome; got != specs.OutcomeFail {
				t.Errorf("%s: %s, want %s", c.requirement, got, specs.OutcomeFail)
			}
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			// The terminal elides long lines from the middle; the report
			// keeps each failure whole.
			said := out
			for _, sp := range verdicts[c.requirement].Specs {
				said += "\n" + sp.Message
			}
			if !strings.Contains(said, c.message) {
				t.Errorf("the failure does not say %q", c.message)
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// TestUnprintedBytesArePartial runs a correct program that prints nothing
// when a reset or a timeout cuts the reply: the bytes it received are then
// not observable, which must not fail, and must be recorded.
func TestUnprintedBytesArePartial(t *testing.T) {
	t.Parallel()
	py := python3(t)
	code, out, verdicts, raw := run(t, py+" client.py {host} {port} {timeout_ms} --fault drops-partial", "CLI-CLOSE-1 || CLI-TIMEOUT-1")
	for _, id := range []string{"CLI-CLOSE-1", "CLI-TIMEOUT-1"} {
		if got := verdicts[id].Outcome; got == specs.OutcomeFail || got == specs.OutcomeSkipped {
			t.Errorf("%s: %s, want it judged without failing", id, got)
		}
	}
	if code == 1 || code == 2 {
		t.Errorf("exit status %d, want a pass (0, or 3 for partly verified)", code)
	}
	if n := bytes.Count(raw, []byte(specs.PartialEntry)); n < 2 {
		t.Errorf("the report records %q %d times, want at least 2 (one per cut reply)", specs.PartialEntry, n)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestTimeoutNotPassedIsNotObservable runs a program whose template has no
// {timeout_ms}: whether it honours a timeout cannot be judged.
func TestTimeoutNotPassedIsNotObservable(t *testing.T) {
	t.Parallel()
	py := python3(t)
	_, out, verdicts, raw := run(t, py+" client.py {host} {port}", "CLI-TIMEOUT-1")
	if got := verdicts["CLI-TIMEOUT-1"].Outcome; got != specs.OutcomeNotObservable {
		t.Errorf("CLI-TIMEOUT-1: %s, want %s\n%s", got, specs.OutcomeNotObservable, out)
	}
	if !bytes.Contains(raw, []byte("add {timeout_ms} to --client-cmd")) {
		t.Errorf("the report does not say how to make the timeout observable:\n%s", out)
	}
}

// TestNULNameThroughArgumentIsNotObservable runs a program that takes the
// name as an argument ({name}): a name holding a NUL byte cannot reach it,
// which must be reported as not observable, never as a failure.
func TestNULNameThroughArgumentIsNotObservable(t *testing.T) {
	t.Parallel()
	py := python3(t)
	_, out, verdicts, raw := run(t, py+" client.py {host} {port} {timeout_ms} --name {name}", "CLI-SEND-1")
	if got := verdicts["CLI-SEND-1"].Outcome; got == specs.OutcomeFail || got == specs.OutcomeSkipped || got == specs.OutcomePass {
		t.Errorf("CLI-SEND-1: %s, want it judged as far as observable (a NUL name cannot be an argument)\n%s", got, out)
	}
	if !bytes.Contains(raw, []byte(specs.NotObservablePrefix+"the name holds a NUL byte")) {
		t.Errorf("the report does not say that the NUL name could not reach the program:\n%s", out)
	}
}
