package main

import (
	"context"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/plugins/reference"
)

// dyingTarget starts a correct server (the reference server, in this
// process) that stops accepting for good once it has served n connections,
// as a running server that crashes mid-run would. It logs to logTo.
func dyingTarget(t *testing.T, n int, logTo io.Writer) string {
	t.Helper()
	srv := &reference.Server{Log: log.New(logTo, "", 0)}
	var mu sync.Mutex
	served, stopped := 0, false
	stop := func() { _ = srv.Stop(context.Background()) }
	resp, err := srv.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: 250},
		func(*contract.ConnectionEvent) {
			mu.Lock()
			defer mu.Unlock()
			if served++; served == n && !stopped {
				stopped = true
				go stop() // Stop waits for this very connection's goroutine
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return resp.GetAddress()
}

// requirementLines returns the verdict lines of the table by outcome.
func requirementLines(stdout string) map[string][]string {
	out := map[string][]string{}
	re := regexp.MustCompile(`(?m)^  ([A-Z]+-[A-Z0-9]+-[0-9]+) +(MUST|SHOULD|MAY) +(server|client) +([A-Z-]+) `)
	for _, m := range re.FindAllStringSubmatch(stdout, -1) {
		out[m[4]] = append(out[m[4]], m[1])
	}
	return out
}

// A target that stops accepting mid-run is one cause, stated once at the
// top with its evidence, merged across the parallel lanes; the requirements
// it left unjudged are BLOCKED (never FAIL), each referring to the cause;
// the only failures are specs during which it died, which say so; and the
// run exits 1, never 0 or 3.
func TestDeadTargetIsOneCauseNotACascade(t *testing.T) {
	t.Parallel()
	for _, withLog := range []bool{false, true} {
		name := "wire only"
		if withLog {
			name = "with --target-log"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testDeadTarget(t, withLog)
		})
	}
}

func testDeadTarget(t *testing.T, withLog bool) {
	logTo, args := io.Discard, []string{}
	if withLog {
		path := filepath.Join(t.TempDir(), "server.log")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		logTo, args = f, []string{"--target-log", path}
	}
	addr := dyingTarget(t, 200, logTo)
	// --wait-timeout 5m: a wait that did not end at the death (for an
	// event, a reply, a close) would outlast the test's own limit.
	r := runCLI(t, 3*time.Minute, append([]string{"run", "--target", addr, "--wait-timeout", "5m", "--no-repro"}, args...)...)
	if r.code != exitFail {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, exitFail, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, "The implementation under test died during the run"); n != 1 {
		t.Fatalf("the cause is stated %d times, want once\n%s", n, r.stdout)
	}
	cause := strings.Index(r.stdout, "The implementation under test died during the run")
	if table := strings.Index(r.stdout, "Per-requirement verdict:"); cause > table {
		t.Errorf("the cause comes after the table\n%s", r.stdout)
	}
	expectOutput(t, r.stdout,
		"the target "+addr+" stopped accepting connections; first during ",
		"connection refused at "+addr+" after ",
		"blocked by the cause above (the target "+addr+")",
	)
	if !regexp.MustCompile(`it blocked [1-9][0-9]* requirements`).MatchString(r.stdout) {
		t.Errorf("the cause does not say how many requirements it blocked\n%s", r.stdout)
	}
	lines := requirementLines(r.stdout)
	if len(lines["BLOCKED"]) == 0 {
		t.Fatalf("no requirement is BLOCKED\n%s", r.stdout)
	}
	// No cascade: at most the specs in flight in the lanes (4) when it
	// stopped can fail, and each failed one names the death first.
	if n := len(lines["FAIL"]); n > 4 {
		t.Errorf("%d requirements FAIL for one cause (%v), want at most one per lane\n%s", n, lines["FAIL"], r.stdout)
	}
	_, table, _ := strings.Cut(r.stdout, "Per-requirement verdict:")
	for _, l := range strings.Split(table, "\n") {
		if strings.Contains(l, "connection refused") && !strings.Contains(l, "stopped accepting connections") {
			t.Errorf("a line repeats the refusal instead of referring to the cause: %q", l)
		}
	}
	if !regexp.MustCompile(`\d+ blocked`).MatchString(r.stdout) || !strings.Contains(r.stdout, "— exit 1") {
		t.Errorf("the summary or the closing line does not count the blocked requirements\n%s", r.stdout)
	}
}

// A plugin that dies in every spec is restarted for each, and each spec
// fails the moment it dies, naming the death first, instead of waiting out
// its bound; the death is stated once at the top, counted.
func TestDyingPluginFailsFast(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		flag, plugin, filter string
		failed               []string
	}{
		{"--server", "builtin:hostile/exit-on-connection", "SRV-GREET-1 || SRV-LOG-1 || SRV-CONC-2", []string{"SRV-GREET-1", "SRV-LOG-1", "SRV-CONC-2"}},
		{"--client", "builtin:hostile/exit-in-greet", "CLI-SEND-2 || CLI-TIMEOUT-1", []string{"CLI-SEND-2", "CLI-TIMEOUT-1"}},
	} {
		t.Run(c.plugin, func(t *testing.T) {
			t.Parallel()
			// With --wait-timeout 5m, one wait that outlasted the death
			// would outlast the test's limit.
			r := runCLI(t, 3*time.Minute, "run", c.flag, c.plugin, "--label-filter", c.filter, "--wait-timeout", "5m", "--no-repro")
			if r.code != exitFail {
				t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			lines := requirementLines(r.stdout)
			if strings.Join(lines["FAIL"], " ") != strings.Join(c.failed, " ") || len(lines["BLOCKED"]) != 0 {
				t.Errorf("FAIL %v, BLOCKED %v; want FAIL %v and nothing blocked (it could be restarted)\n%s", lines["FAIL"], lines["BLOCKED"], c.failed, r.stdout)
			}
			role := strings.TrimPrefix(c.flag, "--")
			expectOutput(t, r.stdout,
				"The implementation under test died during the run",
				"the "+role+" plugin "+c.plugin+" died ",
				"exited with status 3",
				"the "+role+" plugin "+c.plugin+" exited with status 3 (process ",
				", during this spec (see the cause above)",
			)
			if strings.Contains(r.stdout, "awaited its event for") {
				t.Errorf("a spec waited out its bound for an event from a dead plugin\n%s", r.stdout)
			}
		})
	}
}

// A wrapped server program that started once (greetspec run starts it
// before the suite) and can then no longer be started leaves every server
// requirement BLOCKED at once, with the program's own words stated once;
// nothing is FAIL, and the run exits 1.
func TestProgramThatCannotStartAgainIsBlocked(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build the server program: %v", err)
	}
	dir := t.TempDir()
	server := filepath.Join(dir, "goserver")
	if out, err := exec.Command(goTool, "build", "-o", server, "../../plugins/wrapped/goserver").CombinedOutput(); err != nil {
		t.Fatalf("building the server program: %v\n%s", err, out)
	}
	lock := filepath.Join(dir, "lock")
	script := filepath.Join(dir, "once.sh")
	body := "#!/bin/sh\nif [ -e '" + lock + "' ]; then echo 'refusing to start: lock file exists' >&2; exit 7; fi\n: > '" + lock + "'\nexec '" + server + "' \"$@\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, 3*time.Minute, "run", "--server-cmd", script+" {host} {port} {idle_timeout_ms}", "--no-repro")
	if r.code != exitFail {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	lines := requirementLines(r.stdout)
	if len(lines["FAIL"]) != 0 || len(lines["PASS"]) != 0 || len(lines["BLOCKED"]) == 0 {
		t.Errorf("FAIL %v, PASS %v, BLOCKED %v: want every server requirement BLOCKED\n%s", lines["FAIL"], lines["PASS"], lines["BLOCKED"], r.stdout)
	}
	expectOutput(t, r.stdout,
		"the server program could not be started again; first during ",
		"exit status 7",
		"refusing to start: lock file exists",
		"blocked by the cause above (the server program)",
		"\nBLOCKED: ",
	)
	if n := strings.Count(r.stdout, "The implementation under test died during the run"); n != 1 {
		t.Errorf("the cause is stated %d times, want once\n%s", n, r.stdout)
	}
}
