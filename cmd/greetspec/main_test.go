package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/core/testsupport"
	"github.com/greetspec/greetspec/plugins/builtin"
	"github.com/greetspec/greetspec/plugins/reference"
	"github.com/greetspec/greetspec/specs"
)

// The test binary doubles as greetspec: with GREETSPEC_CLI_TEST set it runs
// the CLI on its arguments, and it serves the built-in plugins like the real
// binary. So the tests exercise the very process layout users get.
func TestMain(m *testing.M) {
	host.ServeWatchdogIfRequested()
	builtin.ServeIfRequested()
	testsupport.NoRaceExitSleep()
	if os.Getenv("GREETSPEC_CLI_TEST") != "" {
		os.Exit(contained(os.Args[1:]))
	}
	// Most tests start greetspec runs and wait for them (designed waits,
	// programs under test): more of them at once than the default of one
	// per core keep the cores busy. The tests that time something, or
	// that rely on the run being alone, are not parallel.
	testsupport.WaitBoundParallel(parallelTests)
	code := m.Run()
	if procDir != "" {
		_ = os.RemoveAll(procDir)
	}
	os.Exit(code)
}

// parallelTests is how many parallel tests run at once, unless
// -test.parallel says otherwise.
const parallelTests = 8

// The greetspec processes the tests start are one of two binaries:
//
//   - this test binary (runCLIRace), built as the test command builds it,
//     with the race detector under `ginkgo --race`;
//   - a greetspec binary built once per test process from this package
//     without the race detector (runCLI, and TestContributingCommands).
//
// Most tests run the catalogue, or large parts of it, to check what the
// CLI makes of a run: exit statuses, reports, merging, lanes, shards,
// wrapped programs. Under the race detector each such run costs about five
// times the CPU (a whole catalogue run: 15 s of CPU against 3 s, measured
// on two cores), which on a two-core machine made the package take ten
// minutes. The concurrency those runs exercise lives in specs/runner,
// core/host, core/load and the specs' harness, whose own tests run with
// -race, and the tests below that use runCLIRace still run it race-built
// through the CLI: the whole catalogue in lanes (TestRunReferencePasses), a
// lane killed mid-run, interruption by signals and --timeout, bench's load
// generator. The containment tests run the binary built without it: they
// judge what is left once greetspec ends, with bounds such as
// --start-timeout that a race-built plugin's start exceeded on a loaded
// machine (19 s to start one, load average 50), and core/host's own tests
// run the containment race-built.
var (
	buildOnce sync.Once
	builtExe  string
	buildErr  error
)

var (
	procDirOnce sync.Once
	procDir     string
	procDirErr  error
)

// processDir returns a temporary directory that lives as long as the test
// process (TestMain removes it): for the greetspec binary and for the
// reports of runs that several tests share.
func processDir(t testing.TB) string {
	t.Helper()
	procDirOnce.Do(func() { procDir, procDirErr = os.MkdirTemp("", "greetspec-test-") })
	if procDirErr != nil {
		t.Fatal(procDirErr)
	}
	return procDir
}

// greetspecBinary returns the greetspec binary built from this package
// without the race detector, building it on first use.
func greetspecBinary(t testing.TB) string {
	t.Helper()
	dir := processDir(t)
	buildOnce.Do(func() {
		exe := filepath.Join(dir, "greetspec")
		out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building greetspec: %v\n%s", err, out)
			return
		}
		builtExe = exe
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtExe
}

type cliResult struct {
	code   int
	stdout string
	stderr string
}

// startCLI starts greetspec (the binary exe) with args in a child process
// whose descendants all carry a fresh marker (see testsupport.Marker),
// collecting its output.
func startCLI(t *testing.T, exe string, args ...string) (cmd *exec.Cmd, marker testsupport.Marker, stdout, stderr *testsupport.SyncBuffer) {
	t.Helper()
	marker = testsupport.MustMarker(t, "GREETSPEC_TEST_MARKER")
	cmd = exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "GREETSPEC_CLI_TEST=1", marker.Env())
	stdout, stderr = &testsupport.SyncBuffer{}, &testsupport.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, marker, stdout, stderr
}

// selfExe is this test binary, race-built under the test command.
func selfExe(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// runCLI runs greetspec with args in a child process (the binary built
// without the race detector), bounded by limit, and checks that no process
// it started outlives it.
func runCLI(t *testing.T, limit time.Duration, args ...string) cliResult {
	t.Helper()
	return runExe(t, greetspecBinary(t), limit, args...)
}

// runCLIRace is runCLI with this test binary as greetspec: race-built under
// the test command.
func runCLIRace(t *testing.T, limit time.Duration, args ...string) cliResult {
	t.Helper()
	return runExe(t, selfExe(t), limit, args...)
}

func runExe(t *testing.T, exe string, limit time.Duration, args ...string) cliResult {
	t.Helper()
	cmd, marker, stdout, stderr := startCLI(t, exe, args...)
	var err error
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		marker.Kill()
		t.Fatalf("greetspec %s did not finish within %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), limit, stdout.String(), stderr.String())
	}
	return finishCLI(t, err, marker, stdout, stderr)
}

// finishCLI turns a finished greetspec child's wait error into its result,
// and fails the test if any process greetspec started (carrying marker)
// outlived it, killing those.
func finishCLI(t *testing.T, err error, marker testsupport.Marker, stdout, stderr fmt.Stringer) cliResult {
	t.Helper()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if left := marker.Kill(); len(left) > 0 {
		t.Errorf("processes %v started by greetspec outlived it", left)
	}
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// The whole catalogue against the reference plugins passes, run in lanes
// by the race-built binary (shared with TestLanesMatchSerial). The plain
// `greetspec run` with its defaults is CONTRIBUTING.md's first command,
// which TestContributingCommands runs as written.
func TestRunReferencePasses(t *testing.T) {
	t.Parallel()
	_, lanes := referenceRuns(t)
	r := lanes.result
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Per-requirement verdict:", "SRV-GREET-1", "PASS", "0 failed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestRunFaultyFailsWithRepro(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junit, jsonReport := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.json")
	// This binary, so that the repro command is the test's own invocation.
	r := runCLIRace(t, 5*time.Minute, "run", "--server", "builtin:faulty/greeting-capitalised", "--label-filter", "SRV-GREET-1",
		"--junit-report", junit, "--json-report", jsonReport)
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, f := range []string{junit, jsonReport} {
		data, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(data, []byte("SRV-GREET-1")) || !bytes.Contains(data, []byte("wire transcript")) {
			t.Errorf("report %s missing, or without the failed requirement and its wire transcript: %v", filepath.Base(f), err)
		}
	}
	// The repro command starts the way this very binary would be invoked
	// from the test's directory: the `go run` form under `go test`, the
	// compiled test binary under the ginkgo CLI (TestInvocation checks
	// both forms).
	repro := "\n  " + invocation() + " run --server builtin:faulty/greeting-capitalised --label-filter SRV-GREET-1 -v\n"
	for _, want := range []string{"SRV-GREET-1", "FAIL", "Welcome to Asif server", repro, "FAIL: 1 of 1 requirements failed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// A plugin that exits in the middle of a spec fails that spec with a
// message naming the plugin and its exit, and leaves nothing running.
func TestPluginExitingMidwayIsReported(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		flag, plugin, filter string
	}{
		{"--server", "builtin:hostile/exit-on-connection", "SRV-GREET-1"},
		{"--client", "builtin:hostile/exit-in-greet", "CLI-SEND-2"},
	} {
		t.Run(c.plugin, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, 2*time.Minute, "run", c.flag, c.plugin, "--label-filter", c.filter)
			if r.code != 1 {
				t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{c.plugin, "exit status 3", c.filter, "FAIL"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

// A client plugin whose Greet never returns is given up on within the
// spec's bounds, and the run ends.
func TestHangingPluginDoesNotHangTheRun(t *testing.T) {
	t.Parallel()
	r := runCLI(t, 2*time.Minute, "run", "--client", "builtin:hostile/hang-in-greet", "--label-filter", "CLI-SEND-2", "--wait-timeout", "1s")
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "CLI-SEND-2") || !strings.Contains(r.stdout, "FAIL") {
		t.Errorf("output does not report CLI-SEND-2 as failed:\n%s", r.stdout)
	}
}

func TestUsageAndSetupErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"run", "--bogus"}, "unknown flag: --bogus"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"missing plugin", []string{"run", "--server", "/no/such/plugin"}, "/no/such/plugin"},
		{"not a plugin", []string{"run", "--server", "/bin/true"}, "/bin/true"},
		{"unknown builtin", []string{"run", "--client", "builtin:nope"}, `no built-in plugin "nope"`},
		{"bad duration", []string{"run", "--idle-timeout", "soon"}, "invalid argument"},
		{"gap above T", []string{"run", "--gap", "2s", "--idle-timeout", "1s"}, "--gap"},
		{"two servers", []string{"run", "--server", "builtin:reference", "--target", "127.0.0.1:9"}, "at most one"},
		{"remote target", []string{"run", "--target", "192.0.2.1:9999"}, "not a loopback address"},
		{"bad target", []string{"run", "--target", "localhost"}, "host:port"},
		{"bad template", []string{"run", "--server-cmd", "prog {nope}"}, "--server-cmd"},
		{"nothing selected", []string{"run", "--label-filter", "no-such-label"}, "no spec matched"},
		{"only specs of a role not under test", []string{"run", "--client", "builtin:reference", "--label-filter", "server"}, "no spec matched the filters for the role under test (client)"},
		{"dry run after --", []string{"run", "--label-filter", "SRV-GREET-3", "--", "--dry-run"}, "--dry-run is refused"},
		{"dry run, ginkgo spelling", []string{"run", "--", "--ginkgo.dry-run"}, "--dry-run is refused"},
		{"empty server", []string{"run", "--server", ""}, "--server is empty"},
		{"empty client", []string{"run", "--client", "", "--server", "builtin:reference"}, "--client is empty"},
		{"empty server command", []string{"run", "--server-cmd", " "}, "--server-cmd is empty"},
		{"empty target", []string{"run", "--target="}, "--target is empty"},
		{"idle timeout beyond uint32 ms", []string{"run", "--idle-timeout", "4294967296ms"}, "--idle-timeout 1193h2m47.296s is out of range"},
		{"idle timeout below 1ms", []string{"run", "--idle-timeout", "500us", "--gap", "100us"}, "--idle-timeout 500µs is out of range"},
		{"idle timeout not whole ms", []string{"run", "--idle-timeout", "1500us", "--gap", "100us"}, "not a whole number of milliseconds"},
		{"zero idle timeout", []string{"run", "--idle-timeout", "0s"}, "--idle-timeout must be positive"},
		{"negative wait timeout", []string{"run", "--wait-timeout", "-1s"}, "--wait-timeout must be positive"},
		{"zero start timeout", []string{"run", "--start-timeout", "0s"}, "--start-timeout must be positive"},
		{"zero ready timeout", []string{"run", "--ready-timeout", "0s"}, "--ready-timeout must be positive"},
		{"zero suite timeout", []string{"run", "--timeout", "0s"}, "--timeout must be positive"},
		{"zero grace period", []string{"run", "--", "--grace-period=0s"}, "--grace-period must be positive"},
		{"bad ginkgo flag", []string{"run", "--", "--nope"}, "ginkgo flags after --"},
		{"wrapped server crashes", []string{"run", "--server-cmd", "sh -c 'echo boom; exit 5' sh {port}"}, "exit status 5"},
		{"wrapped server never listens", []string{"run", "--server-cmd", "sh -c 'sleep 30' sh {port}", "--ready-timeout", "1s"}, "did not accept connections"},
		{"wrapped server told no port", []string{"run", "--server-cmd", "sleep 30"}, "neither {port} nor {addr}"},
		{"bad client outcome", []string{"run", "--client-cmd", "prog {addr}", "--client-outcome", "refused=0"}, "--client-outcome"},
		{"client outcome alone", []string{"run", "--client-outcome", "refused=3"}, "--client-outcome needs --client-cmd"},
		{"plugin lacks the role", []string{"run", "--client", "builtin:alt/eventloop-server"}, "does not offer the client role"},
		{"selftest parallel zero", []string{"selftest", "--parallel", "0"}, "--parallel must be between 1 and"},
		{"selftest zero run timeout", []string{"selftest", "--run-timeout", "0s"}, "--run-timeout must be positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, time.Minute, c.args...)
			if r.code != 2 {
				t.Fatalf("exit status %d, want 2\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, r.stderr)
			}
		})
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	t.Parallel()
	r := runCLI(t, time.Minute, "run", "--help")
	if r.code != 0 {
		t.Fatalf("exit status %d", r.code)
	}
	for _, flag := range []string{"--server", "--client", "--server-cmd", "--client-cmd", "--target", "--allow-remote", "--idle-timeout", "--wait-timeout", "--label-filter", "--json-report", "--junit-report", "Exit status"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("run --help does not mention %s", flag)
		}
	}
}

func TestListCoversEveryRequirement(t *testing.T) {
	t.Parallel()
	r := runCLI(t, time.Minute, "list")
	if r.code != 0 {
		t.Fatalf("exit status %d (a requirement without spec?)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "no spec checks") {
		t.Errorf("list reports requirements without specs:\n%s", r.stdout)
	}
}

// The self-test: every requirement is proven to fail by a faulty plugin,
// faults are reported precisely, and correct implementations pass.
func TestSelftest(t *testing.T) {
	if testing.Short() {
		t.Skip("the self-test runs the suite once per built-in plugin")
	}
	t.Parallel()
	r := runCLI(t, 30*time.Minute, "selftest", "--quiet")
	if r.code != 0 {
		t.Fatalf("selftest exit status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "GAP") {
		t.Errorf("selftest reports gaps:\n%s", r.stdout)
	}
}

func requireDebianPythonGRPC(t *testing.T) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf, cryptography").Run(); err != nil {
		const why = "/usr/bin/python3 lacks grpc, protobuf or cryptography (Debian python3-grpcio, python3-protobuf, python3-cryptography)"
		if os.Getenv("CI") != "" {
			t.Fatal(why + ": .ci/run installs them, so CI never skips these tests")
		}
		t.Skip(why)
	}
}

// The native Python plugin passes the whole suite in both roles: the run of
// CONTRIBUTING.md's walk-through, shared with TestContributingCommands.
func TestPythonPluginConforms(t *testing.T) {
	requireDebianPythonGRPC(t)
	t.Parallel()
	const plugin = "/usr/bin/python3 plugins/python/greet_plugin.py"
	r, ok := documentedRun(t, "run", "--server", plugin, "--client", plugin)
	if !ok {
		const here = "/usr/bin/python3 ../../plugins/python/greet_plugin.py"
		r = runCLI(t, 10*time.Minute, "run", "--server", here, "--client", here)
	}
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "Requirements: 27 passed, 0 failed") {
		t.Errorf("not every requirement passed:\n%s", r.stdout)
	}
}

// The walk-through's Go plugin builds and passes the whole suite: the run
// of CONTRIBUTING.md's walk-through, shared with TestContributingCommands.
func TestGoPluginExample(t *testing.T) {
	t.Parallel()
	r, ok := documentedRun(t, "run", "--server", "./my-plugin", "--client", "./my-plugin")
	if !ok {
		bin := t.TempDir() + "/example-plugin"
		build := exec.Command("go", "build", "-o", bin, "../../plugins/example")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the example plugin: %v\n%s", err, out)
		}
		r = runCLI(t, 10*time.Minute, "run", "--server", bin, "--client", bin)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "Requirements: 27 passed, 0 failed") {
		t.Fatalf("exit status %d, want 0 with every requirement passed\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// tutorialVerdicts is what the suite must say of the tutorial's programs
// (plugins/tutorial), run through the exec adapter: each known defect
// against the requirement it breaks, and a pass where they conform.
var tutorialVerdicts = map[string]specs.Outcome{
	// Server: a sequential loop around one recv(1024), a strict decode and
	// close() with whatever input is unread.
	"SRV-GREET-1": specs.OutcomeFail, // invalid UTF-8 kills it, so such names are never greeted
	"SRV-GREET-2": specs.OutcomeFail, // it answers the first piece of a name
	"SRV-GREET-3": specs.OutcomePass,
	"SRV-NAME-1":  specs.OutcomeFail, // one recv is taken as the whole name
	"SRV-NAME-2":  specs.OutcomePass,
	"SRV-NAME-3":  specs.OutcomePass,
	"SRV-LOG-1":   specs.OutcomePass, // its ('127.0.0.1', port) form conforms
	"SRV-UTF8-1":  specs.OutcomePass,
	"SRV-UTF8-2":  specs.OutcomeFail, // UnicodeDecodeError ends the server
	"SRV-UTF8-3":  specs.OutcomeFail,
	"SRV-UTF8-4":  specs.OutcomeFail,
	"SRV-LIMIT-1": specs.OutcomePass,
	"SRV-LIMIT-2": specs.OutcomePass,
	"SRV-CLOSE-1": specs.OutcomeFail, // close() with unread input sends a reset
	"SRV-CLOSE-2": specs.OutcomeFail, // a reset client's ConnectionResetError ends the server
	"SRV-IDLE-1":  specs.OutcomeFail, // it waits in recv forever
	"SRV-CONC-1":  specs.OutcomeFail, // one idle client blocks everyone
	"SRV-CONC-2":  specs.OutcomeFail, // listen(3) and one client at a time
	"SRV-LOG-2":   specs.OutcomeFail, // the name is printed raw
	// Client: prompt, input(), send without half-close, one recv(1024),
	// strict decode.
	"CLI-SEND-1":    specs.OutcomeFail, // input() cannot take a name with a line break
	"CLI-SEND-2":    specs.OutcomeFail, // it never half-closes
	"CLI-LIMIT-1":   specs.OutcomeFail, // it sends names over 1024 bytes
	"CLI-REPLY-1":   specs.OutcomeFail, // one recv misses a reply written in pieces
	"CLI-REPLY-2":   specs.OutcomePass,
	"CLI-UTF8-1":    specs.OutcomeFail,          // an invalid reply raises UnicodeDecodeError
	"CLI-CLOSE-1":   specs.OutcomeFail,          // bytes then a reset look like a complete reply
	"CLI-TIMEOUT-1": specs.OutcomeNotObservable, // its command line cannot be told a timeout (no {timeout_ms})
}

// The showcase: the tutorial's programs through the exec adapter, each
// defect reported against the right requirement. The run is CONTRIBUTING.md's
// (run from the repository's root), shared with TestContributingCommands.
func TestTutorialShowcase(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite against slow, non-conforming programs")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	t.Parallel()
	args := []string{"run",
		"--server-cmd", "/usr/bin/python3 plugins/tutorial/server.py {host} {port}",
		"--client-cmd", "/usr/bin/python3 plugins/tutorial/client.py {host} {port}"}
	r, ok := documentedRun(t, args...)
	if !ok {
		r = runCLI(t, 20*time.Minute, append(args, "--cmd-dir", "../..")...)
	}
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1 (the tutorial does not conform)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	got := map[string]specs.Outcome{}
	for outcome, ids := range requirementLines(r.stdout) {
		for _, id := range ids {
			got[id] = specs.Outcome(outcome)
		}
	}
	if len(got) != len(tutorialVerdicts) {
		t.Errorf("%d requirements in the verdict table, but the expectations name %d", len(got), len(tutorialVerdicts))
	}
	for id, want := range tutorialVerdicts {
		if got[id] != want {
			t.Errorf("%s: %s, want %s", id, got[id], want)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", r.stdout)
	}
}

// A wrapped client program that never connects nor prints a reply fails its
// specs within the bounds, and is killed.
func TestSilentClientProgram(t *testing.T) {
	t.Parallel()
	r := runCLI(t, 2*time.Minute, "run", "--client-cmd", "sleep 30", "--label-filter", "CLI-SEND-2", "--wait-timeout", "1s")
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// The program is killed only ClientKillGrace after its timeout, so the
	// spec may give up waiting for its connection before it returns.
	if !strings.Contains(r.stdout, "CLI-SEND-2") || (!strings.Contains(r.stdout, "the client under test must connect") &&
		!strings.Contains(r.stdout, "the client under test neither connected nor returned")) {
		t.Errorf("the verdict does not say the client program never connected:\n%s", r.stdout)
	}
}

// Address mode tests a server that is already running: what needs the
// server's own observations is reported as not observable, never as passed
// or failed.
func TestAddressMode(t *testing.T) {
	t.Parallel()
	r, _ := wireOnlyRun(t) // shared with TestAddressModeWireOnly
	// What could not be observed was not verified: exit status 3, never 0.
	if r.code != 3 {
		t.Fatalf("exit status %d, want 3 (passed, but not everything observable)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	expectOutput(t, r.stdout,
		"SRV-GREET-1    MUST   server PASS",
		"SRV-UTF8-3     MUST   server NOT-OBSERVABLE",
		"CLI-SEND-1     MUST   client SKIPPED",
		"0 failed",
		"\nPARTIAL: ",
		"exit 3; see the table\n",
	)
	if strings.Contains(r.stdout, "requirements verified: PASS") {
		t.Errorf("a run with unobservable requirements claims an unqualified PASS:\n%s", r.stdout)
	}
	// --accept-partial turns that into exit status 0, still saying PARTIAL.
	srv := &reference.Server{}
	resp, err := srv.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: 1000}, func(*contract.ConnectionEvent) {})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	r = runCLI(t, 2*time.Minute, "run", "--target", resp.GetAddress(), "--label-filter", "SRV-GREET-3 || SRV-UTF8-3", "--accept-partial")
	if r.code != 0 || !strings.Contains(r.stdout, "PARTIAL (accepted)") {
		t.Errorf("--accept-partial: exit status %d, want 0 with a PARTIAL (accepted) conclusion\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// Ginkgo flags after "--" reach the suite.
func TestGinkgoFlagsPassThrough(t *testing.T) {
	t.Parallel()
	r := runCLI(t, 2*time.Minute, "run", "--label-filter", "SRV-GREET-3", "--", "--seed=5", "--ginkgo.randomize-all")
	if r.code != 0 || !strings.Contains(r.stdout, "Random Seed: 5 - will randomize all specs") {
		t.Fatalf("exit status %d; ginkgo flags not applied:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// A focus on part of a requirement's specs verifies only that part: the
// requirement is PARTIAL, never PASS, and the run exits 3.
func TestFocusSubsetIsPartial(t *testing.T) {
	t.Parallel()
	report := filepath.Join(t.TempDir(), "verdicts.json")
	junit := filepath.Join(t.TempDir(), "junit.xml")
	r := runCLI(t, 2*time.Minute, "run", "--server", "builtin:reference", "--label-filter", "SRV-GREET-1", "--focus", "ascii$",
		"--verdict-report", report, "--junit-report", junit)
	if r.code != 3 {
		t.Fatalf("exit status %d, want 3\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"SRV-GREET-1    MUST   server PARTIAL", "specs filtered out", "\nPARTIAL: 0 verified, 1 partly — exit 3"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	vs, err := specs.ReadVerdicts(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		want := specs.OutcomeSkipped
		if v.Requirement.ID == "SRV-GREET-1" {
			want = specs.OutcomePartial
		}
		if v.Outcome != want {
			t.Errorf("verdict report: %s is %s, want %s", v.Requirement.ID, v.Outcome, want)
		}
	}
	data, err := os.ReadFile(junit)
	if err != nil || !bytes.Contains(data, []byte(`<property name="greetspec.verdict.SRV-GREET-1" value="PARTIAL">`)) {
		t.Errorf("the JUnit report lacks the requirement's verdict (%v):\n%s", err, data)
	}
}

// A failure's summary line keeps its end: the decisive trailing newline of
// a greeting is shown, escaped.
func TestFailureLineShowsTheDifference(t *testing.T) {
	t.Parallel()
	r := runCLI(t, 2*time.Minute, "run", "--server", "builtin:faulty/greeting-newline", "--label-filter", "SRV-GREET-1", "--focus", "ascii$")
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if want := `23 bytes "welcome to Asif server\n"`; !strings.Contains(r.stdout, want) {
		t.Errorf("the failure line does not show %s:\n%s", want, r.stdout)
	}
}

// Bad filters are usage errors said in one plain line, found before any
// plugin starts (here the plugin does not even exist): never a panic, never
// Ginkgo's colour codes.
func TestBadFiltersAreUsageErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"label filter syntax", []string{"--label-filter", "server && ("}, `--label-filter "server && (": Syntax Error Parsing Label Filter`},
		{"label filter after --", []string{"--", "--label-filter=must ||"}, "--label-filter"},
		{"focus regexp", []string{"--focus", "("}, `--focus "(" is not a valid regular expression`},
		{"skip regexp after --", []string{"--", "--skip=[z-a]"}, `--skip "[z-a]" is not a valid regular expression`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"run", "--server", "/no/such/plugin"}, c.args...)
			r := runCLI(t, time.Minute, args...)
			if r.code != 2 {
				t.Fatalf("exit status %d, want 2\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, r.stderr)
			}
			if strings.Contains(r.stderr, "/no/such/plugin") {
				t.Errorf("the plugin was started before the filters were checked:\n%s", r.stderr)
			}
			for _, bad := range []string{"\x1b[", "goroutine ", "panic"} {
				if strings.Contains(r.stderr, bad) {
					t.Errorf("stderr holds %q:\n%s", bad, r.stderr)
				}
			}
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines != 1 {
				t.Errorf("stderr has %d lines, want one:\n%s", lines, r.stderr)
			}
		})
	}
}

// runCLIInterrupted runs greetspec like runCLI and sends it sig once the
// suite has been running for a second.
func runCLIInterrupted(t *testing.T, sig syscall.Signal, args ...string) cliResult {
	t.Helper()
	cmd, marker, stdout, stderr := startCLI(t, selfExe(t), args...)
	var err error
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	started := time.NewTicker(50 * time.Millisecond)
	defer started.Stop()
	sent := false
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-started.C:
			if !sent && strings.Contains(stdout.String(), "Will run ") {
				sent = true
				time.AfterFunc(time.Second, func() { _ = cmd.Process.Signal(sig) })
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("greetspec %s did not finish\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
		}
	}
	if !sent {
		t.Fatalf("the run ended before it could be interrupted\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	return finishCLI(t, err, marker, stdout, stderr)
}

// SIGINT, SIGTERM and --timeout stop the run: the unfinished requirements
// are INTERRUPTED (naming the spec in flight), nothing is reported FAIL, no
// repro command is printed, the plugins go away, and the exit status is 4.
func TestInterruption(t *testing.T) {
	// With T=5s the server specs take far longer than the second after
	// which the run is interrupted, serial or in parallel lanes.
	args := []string{"run", "--server", "builtin:reference", "--label-filter", "server", "--idle-timeout", "5s"}
	serial := append(append([]string{}, args...), "--procs", "1")
	for _, c := range []struct {
		name  string
		run   func() cliResult
		cause string
	}{
		{"SIGINT", func() cliResult { return runCLIInterrupted(t, syscall.SIGINT, serial...) }, "SIGINT"},
		{"SIGTERM", func() cliResult { return runCLIInterrupted(t, syscall.SIGTERM, serial...) }, "SIGTERM"},
		// Lanes print the run only when it is over: interrupted by the clock.
		{"SIGINT, parallel lanes", func() cliResult { return runCLIInterruptedAfter(t, syscall.SIGINT, 3*time.Second, args...) }, "SIGINT"},
		{"timeout", func() cliResult { return runCLIRace(t, 2*time.Minute, append(serial, "--timeout", "2s")...) }, "--timeout 2s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.run()
			if r.code != 4 {
				t.Fatalf("exit status %d, want 4\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{"INTERRUPTED by " + c.cause + " while running ", "interrupted by " + c.cause, "— exit 4"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, r.stdout)
				}
			}
			for _, bad := range []string{" FAIL ", "To run a failed requirement again"} {
				if strings.Contains(r.stdout, bad) {
					t.Errorf("an interrupted run reports %q:\n%s", bad, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "CLI-SEND-1     MUST   client INTERRUPTED") {
				t.Errorf("a role not under test is reported INTERRUPTED:\n%s", r.stdout)
			}
		})
	}
}

// An interrupt while the plugins are being set up ends the run at once, in
// order, with exit status 4.
func TestInterruptionDuringSetup(t *testing.T) {
	r := runCLIInterruptedAfter(t, syscall.SIGINT, time.Second, "run", "--server-cmd", "sh -c 'sleep 30' {port}", "--ready-timeout", "60s")
	if r.code != 4 || !strings.Contains(r.stderr, "interrupted by SIGINT before any spec ran") {
		t.Fatalf("exit status %d, want 4 with the interruption said\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// runCLIInterruptedAfter runs greetspec and sends it sig after d.
func runCLIInterruptedAfter(t *testing.T, sig syscall.Signal, d time.Duration, args ...string) cliResult {
	t.Helper()
	cmd, marker, stdout, stderr := startCLI(t, selfExe(t), args...)
	var err error
	timer := time.AfterFunc(d, func() { _ = cmd.Process.Signal(sig) })
	defer timer.Stop()
	killer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer killer.Stop()
	err = cmd.Wait()
	return finishCLI(t, err, marker, stdout, stderr)
}

// The repro command is the way greetspec was invoked.
func TestInvocation(t *testing.T) {
	for _, c := range []struct {
		exe  string
		want bool
	}{
		{"/tmp/go-build123456/b001/exe/greetspec", true},
		{filepath.Join(os.Getenv("GOCACHE"), "ab", "cdef-d", "greetspec"), os.Getenv("GOCACHE") != ""},
		{"/usr/local/bin/greetspec", false},
		{"/home/me/bin/greetspec", false},
	} {
		if got := builtByGo(c.exe); got != c.want {
			t.Errorf("builtByGo(%q) = %v, want %v", c.exe, got, c.want)
		}
	}
	if got := cmdPackageDir(); got != "." {
		t.Errorf("cmdPackageDir() in the package's own directory = %q, want \".\"", got)
	}
}

// expectOutput reports each of wants that out lacks, with the whole output.
func expectOutput(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
