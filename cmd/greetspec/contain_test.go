package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/core/testsupport"
	"github.com/greetspec/greetspec/plugins/hostile"
)

// contained is one greetspec process started for a containment test, with
// its own temporary directory (TMPDIR) and the report of what its hostile
// plugin left behind.
type containedRun struct {
	cmd            *exec.Cmd
	tmp, report    string
	marker         testsupport.Marker
	stdout, stderr bytes.Buffer
	done           chan error
	started        time.Time
}

func startContained(t *testing.T, env []string, args ...string) *containedRun {
	t.Helper()
	exe := greetspecBinary(t)
	// Short, so that socket paths inside it stay well under the limit.
	tmp, err := os.MkdirTemp("", "gsc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	r := &containedRun{tmp: tmp, report: filepath.Join(t.TempDir(), "report"), marker: testsupport.MustMarker(t, "GREETSPEC_TEST_MARKER"), done: make(chan error, 1)}
	r.cmd = exec.Command(exe, args...)
	r.cmd.Env = append(os.Environ(), "GREETSPEC_CLI_TEST=1", r.marker.Env(),
		"TMPDIR="+tmp, hostile.EnvReport+"="+r.report)
	r.cmd.Env = append(r.cmd.Env, env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		r.marker.Kill()
	})
	return r
}

// leftovers reads the hostile plugin's report: PIDs and daemon ports.
func (r *containedRun) leftovers() (pids, ports []int, daemons int) {
	data, _ := os.ReadFile(r.report)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(f[1])
		pids = append(pids, pid)
		if len(f) == 3 && f[0] == "daemon" {
			port, _ := strconv.Atoi(f[2])
			ports = append(ports, port)
			daemons++
		}
	}
	return pids, ports, daemons
}

// waitDaemons waits (generously, ending as soon as it happens) until the
// plugin has reported n daemons.
func (r *containedRun) waitDaemons(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, _, d := r.leftovers(); d >= n {
			return
		}
		select {
		case err := <-r.done:
			t.Fatalf("greetspec ended (%v) before its plugin reported %d daemons\nstdout:\n%s\nstderr:\n%s", err, n, r.stdout.String(), r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plugin did not report %d daemons within 2m", n)
		}
	}
}

// wait waits for greetspec to end, bounded, and returns its exit status.
func (r *containedRun) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case err := <-r.done:
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return -int(ws.Signal())
			}
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit):
		_ = r.cmd.Process.Kill()
		t.Fatalf("greetspec did not end within %v\nstdout:\n%s\nstderr:\n%s", limit, r.stdout.String(), r.stderr.String())
		return 0
	}
}

// checkNothingLeft asserts that, within grace, no process greetspec
// started (directly or not, daemons and the watchdog included) is alive,
// no daemon port listens, and greetspec's temporary directory is empty.
func (r *containedRun) checkNothingLeft(t *testing.T, grace time.Duration) {
	t.Helper()
	pids, ports, _ := r.leftovers()
	deadline := time.Now().Add(grace)
	for {
		var problems []string
		if left := r.marker.Processes(); len(left) > 0 {
			problems = append(problems, "processes alive: "+strings.Trim(strings.Join(strings.Fields(strings.Trim(strconvInts(left), "[]")), " "), " "))
		}
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				problems = append(problems, "reported process alive: "+strconv.Itoa(pid))
			}
		}
		for _, port := range ports {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
				c.Close()
				problems = append(problems, "port listening: "+strconv.Itoa(port))
			}
		}
		if entries, _ := os.ReadDir(r.tmp); len(entries) > 0 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			problems = append(problems, "temporary files left: "+strings.Join(names, " "))
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after greetspec ended: %s\nstderr:\n%s", grace, strings.Join(problems, "; "), r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func strconvInts(v []int) string {
	var s []string
	for _, i := range v {
		s = append(s, strconv.Itoa(i))
	}
	return strings.Join(s, " ")
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && len(stat) > i+2 && stat[i+2] == 'Z'
}

// The cleanup after greetspec ends runs in a watchdog process; 10 s is a
// generous bound for it on a loaded machine (it takes milliseconds).
const cleanupGrace = 10 * time.Second

func TestContainmentSIGKILLMidRun(t *testing.T) {
	r := startContained(t, nil, "run", "--server", "builtin:hostile/fork-daemon", "--label-filter", "server")
	// The first daemon comes from the preflight launch, the next from a
	// lane's: the run is under way.
	r.waitDaemons(t, 2)
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t, cleanupGrace); code != -int(syscall.SIGKILL) {
		t.Fatalf("greetspec ended with %d, want killed by SIGKILL", code)
	}
	r.checkNothingLeft(t, cleanupGrace)
}

func TestContainmentNormalRunKillsEscapedDaemons(t *testing.T) {
	r := startContained(t, nil, "run", "--server", "builtin:hostile/fork-daemon", "--label-filter", "SRV-GREET-1")
	if code := r.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	// A run this small goes on in greetspec's own process with the plugin
	// its preflight launched: one launch, one daemon.
	if _, _, d := r.leftovers(); d < 1 {
		t.Fatalf("the plugin reported %d daemons, want one per launch (1)", d)
	}
	r.checkNothingLeft(t, cleanupGrace)
}

func TestContainmentSignalDuringPreflight(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			// The server's Start waits a minute: the preflight hangs.
			r := startContained(t, []string{hostile.EnvSlowStart + "=1m"},
				"run", "--server", "builtin:hostile/fork-daemon", "--label-filter", "SRV-GREET-1", "--start-timeout", "2m")
			r.waitDaemons(t, 1)
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			want := 4
			if sig == syscall.SIGKILL {
				want = -int(sig)
			}
			// Ended by the run's own interrupt flow, or at the latest by
			// the containment's grace.
			if code := r.wait(t, host.DefaultInterruptGrace+cleanupGrace); code != want {
				t.Fatalf("greetspec ended with %d after %v, want %d\nstderr:\n%s", code, sig, want, r.stderr.String())
			}
			if sig != syscall.SIGKILL && !strings.Contains(r.stderr.String(), "interrupted") {
				t.Errorf("stderr does not say greetspec was interrupted:\n%s", r.stderr.String())
			}
			r.checkNothingLeft(t, cleanupGrace)
		})
	}
}

func TestContainmentSweepsStaleTempDirs(t *testing.T) {
	// What a run killed together with its watchdog would leave: a run
	// directory nobody holds and an old go-plugin socket directory.
	r0 := startContained(t, nil, "plugins")
	if code := r0.wait(t, time.Minute); code != 0 {
		t.Fatalf("greetspec plugins: exit status %d", code)
	}
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{"greetspec-run-stale/plugin-dir1", "plugin-dir2"} {
		p := filepath.Join(r0.tmp, d)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r0.tmp, "greetspec-run-stale", ".lock"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chtimes(p, old, old)
		_ = os.Chtimes(filepath.Dir(p), old, old)
	}
	cmd := exec.Command(greetspecBinary(t), "plugins")
	cmd.Env = append(os.Environ(), "GREETSPEC_CLI_TEST=1", "TMPDIR="+r0.tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("greetspec plugins: %v\n%s", err, out)
	}
	r0.checkNothingLeft(t, cleanupGrace)
}

func TestStartTimeoutBoundsStalledTLS(t *testing.T) {
	const limit = 2 * time.Second
	// Given as a command line, not builtin:, so that it is spoken to over
	// mutual TLS as any plugin but greetspec's own built-ins is.
	server := "env " + contract.BuiltinEnv + "=hostile/stall-tls " + greetspecBinary(t)
	r := startContained(t, nil, "run", "--server", server, "--label-filter", "SRV-GREET-1", "--start-timeout", limit.String())
	code := r.wait(t, time.Minute)
	took := time.Since(r.started)
	t.Logf("greetspec ended after %v with --start-timeout %v", took, limit)
	if code != 2 {
		t.Fatalf("exit status %d, want 2\nstderr:\n%s", code, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "start-timeout") {
		t.Errorf("stderr does not name the start timeout:\n%s", r.stderr.String())
	}
	// Margin: greetspec's own start and exit, and the kill of the plugin;
	// unbounded, gRPC's connect timeout would make it 20 s or more.
	if took > limit+3*time.Second {
		t.Errorf("greetspec took %v, want at most --start-timeout %v plus 3 s", took, limit)
	}
	r.checkNothingLeft(t, cleanupGrace)
}

func TestPluginOutputEscapedOnTerminal(t *testing.T) {
	r := startContained(t, nil, "run", "--client", "builtin:hostile/ansi-output", "--label-filter", "CLI-SEND-2", "--wait-timeout", "2s")
	if code := r.wait(t, 2*time.Minute); code != 1 {
		t.Fatalf("exit status %d, want 1 (the client fails)\nstdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	all := r.stdout.String() + r.stderr.String()
	if i := strings.IndexAny(all, "\x1b\x07"); i >= 0 {
		t.Errorf("greetspec's output holds a raw control byte %q at %d:\n%q", all[i], i, all)
	}
	if !strings.Contains(all, `\x1b[2J`) {
		t.Errorf("greetspec's output does not show the plugin's escape sequence as text:\n%s", all)
	}
}

func TestChecksumPinningCLI(t *testing.T) {
	t.Parallel()
	// Built-in plugins run from greetspec's own executable.
	data, err := os.ReadFile(greetspecBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])

	r := runCLI(t, time.Minute, "run", "--server", "builtin:reference", "--server-sha256", strings.Repeat("0", 64), "--label-filter", "SRV-GREET-1")
	if r.code != 2 || !strings.Contains(r.stderr, "checksum mismatch") || !strings.Contains(r.stderr, good) {
		t.Errorf("wrong pin: exit status %d, want 2 with a checksum mismatch naming the real sum\nstderr:\n%s", r.code, r.stderr)
	}
	r = runCLI(t, time.Minute, "run", "--client", "builtin:reference", "--client-sha256", "not-hex")
	if r.code != 2 || !strings.Contains(r.stderr, "--client-sha256") {
		t.Errorf("malformed pin: exit status %d, want 2 naming the flag\nstderr:\n%s", r.code, r.stderr)
	}
	r = runCLI(t, 3*time.Minute, "run", "--server", "builtin:reference", "--server-sha256", good, "--label-filter", "SRV-GREET-1")
	if r.code != 0 {
		t.Errorf("right pin: exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
