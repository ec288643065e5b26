package host_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/plugins/hostile"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
)

// leftovers reads the report a ForkDaemon plugin writes: the PIDs it left
// behind and the ports its daemons listen on.
func leftovers(t *testing.T, path string) (pids []int, ports []int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 {
			pid, _ := strconv.Atoi(f[1])
			pids = append(pids, pid)
		}
		if len(f) == 3 && f[0] == "daemon" {
			port, _ := strconv.Atoi(f[2])
			ports = append(ports, port)
		}
	}
	return pids, ports
}

// waitGone waits (generously, ending as soon as it holds) until no PID is
// alive and nothing listens on the ports.
func waitGone(t *testing.T, pids, ports []int, grace time.Duration) {
	t.Helper()
	deadline := time.Now().Add(grace)
	for {
		var alivePIDs, open []int
		for _, pid := range pids {
			if alive(pid) && !zombie(pid) {
				alivePIDs = append(alivePIDs, pid)
			}
		}
		for _, port := range ports {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
				c.Close()
				open = append(open, port)
			}
		}
		if len(alivePIDs) == 0 && len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range alivePIDs {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("after %v, processes %v still alive and ports %v still listening", grace, alivePIDs, open)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCloseKillsDoubleForkedDaemon(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	report := filepath.Join(t.TempDir(), "report")
	t.Setenv(hostile.EnvReport, report)
	p, err := launch(t, "fork-daemon", host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The daemon reports itself once it listens.
	deadline := time.Now().Add(20 * time.Second)
	var pids, ports []int
	for len(ports) == 0 {
		if time.Now().After(deadline) {
			p.Close()
			t.Fatal("the plugin's daemon never reported its port")
		}
		time.Sleep(10 * time.Millisecond)
		pids, ports = leftovers(t, report)
	}
	if len(pids) != 2 {
		p.Close()
		t.Fatalf("want a child and a daemon in the report, got PIDs %v", pids)
	}
	pids = append(pids, p.PID())
	p.Close()
	waitGone(t, pids, ports, 5*time.Second)
}

func TestStartTimeoutBoundsTLSHandshake(t *testing.T) {
	const limit = 2 * time.Second
	start := time.Now()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := host.ParseRef(host.BuiltinPrefix+"stall-tls", self)
	if err != nil {
		t.Fatal(err)
	}
	// Spoken to over mutual TLS, as any plugin but greetspec's own
	// built-ins is: the stall is in the TLS handshake.
	spec.Builtin = false
	p, err := host.Launch(spec, host.Options{StartTimeout: limit})
	took := time.Since(start)
	if err == nil {
		p.Close()
		t.Fatal("a plugin stalling its TLS handshake was launched")
	}
	t.Logf("launch failed after %v (start timeout %v): %v", took, limit, err)
	// The kill and the wait for go-plugin to let go take a moment; a
	// stall bounded only by gRPC's connect timeout would take 20 s.
	if took > limit+3*time.Second {
		t.Errorf("launch took %v, want at most the start timeout %v plus 3 s", took, limit)
	}
	if !strings.Contains(err.Error(), "timeout") {
		t.Errorf("error %q does not say it timed out", err)
	}
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

func noControl(t *testing.T, what, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			t.Errorf("%s holds control byte %#x at %d: %q", what, c, i, s)
			return
		}
	}
	if !strings.Contains(s, `\x1b[2J`) {
		t.Errorf("%s does not show the escape sequence as text: %q", what, s)
	}
}

func TestPluginOutputIsEscaped(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	_, err := launch(t, "ansi-exit", host.Options{StartTimeout: 10 * time.Second})
	if err == nil {
		t.Fatal("a plugin exiting at start was launched")
	}
	noControl(t, "start error", err.Error())

	for _, mode := range []string{"error", "class"} {
		t.Setenv("ANSI_MODE", mode)
		lw := &syncWriter{}
		p, err := launch(t, "ansi-client", host.Options{Log: lw, LogLevel: hclog.Debug})
		if err != nil {
			t.Fatal(err)
		}
		cli, err := p.Client()
		if err != nil {
			p.Close()
			t.Fatal(err)
		}
		resp, err := cli.Greet(context.Background(), &contract.GreetRequest{Address: "127.0.0.1:1", Name: "x"})
		err = p.Err("Greet", err)
		p.Close()
		switch mode {
		case "error":
			if err == nil {
				t.Fatal("the ANSI client's Greet succeeded")
			}
			noControl(t, "Greet error", err.Error())
		case "class":
			if err != nil {
				t.Fatal(err)
			}
			noControl(t, "Greet error message", resp.GetError())
		}
		noControl(t, "plugin log", lw.String())
	}
}

func sha(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestChecksumPinning(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const zero = "0000000000000000000000000000000000000000000000000000000000000000"
	if err := host.PinSHA256("builtin:echo", "abc"); err == nil {
		t.Error("a malformed sum was accepted")
	}

	// An executable: checked through go-plugin's SecureConfig.
	t.Cleanup(func() { _ = host.PinSHA256("builtin:echo", "") })
	if err := host.PinSHA256("builtin:echo", sha(t, self)); err != nil {
		t.Fatal(err)
	}
	p, err := launch(t, "echo", host.Options{})
	if err != nil {
		t.Fatalf("launch with the right pin: %v", err)
	}
	p.Close()
	if err := host.PinSHA256("builtin:echo", zero); err != nil {
		t.Fatal(err)
	}
	if _, err := launch(t, "echo", host.Options{}); !errors.Is(err, host.ErrChecksum) || !strings.Contains(err.Error(), sha(t, self)) {
		t.Errorf("launch with a wrong pin: want a checksum mismatch naming the real sum, got %v", err)
	}

	// A script run by an interpreter: the script is what is pinned.
	script := filepath.Join(t.TempDir(), "plugin.sh")
	if err := os.WriteFile(script, []byte("exec \"$HOST_TEST_SELF\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := host.Spec{Name: "sh plugin.sh", Path: "/bin/sh", Args: []string{script},
		Env: []string{contract.BuiltinEnv + "=echo", "HOST_TEST_SELF=" + self}}
	t.Cleanup(func() { _ = host.PinSHA256(spec.Name, "") })
	if err := host.PinSHA256(spec.Name, sha(t, script)); err != nil {
		t.Fatal(err)
	}
	p, err = host.Launch(spec, host.Options{})
	if err != nil {
		t.Fatalf("launch of a script with its pin: %v", err)
	}
	p.Close()
	if err := os.WriteFile(script, []byte("# changed\nexec \"$HOST_TEST_SELF\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Launch(spec, host.Options{}); !errors.Is(err, host.ErrChecksum) || !strings.Contains(err.Error(), "plugin.sh") {
		t.Errorf("launch of a changed script: want a checksum mismatch naming the script, got %v", err)
	}
}

func TestSweepStale(t *testing.T) {
	tmp := t.TempDir()
	old := time.Now().Add(-time.Hour)
	mk := func(name string, age time.Time) string {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
		return p
	}
	deadRun := mk("greetspec-run-dead", old)
	if err := os.WriteFile(filepath.Join(deadRun, ".lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(deadRun, old, old)
	// A run creating its directory has not locked it yet: too new to sweep.
	newRun := mk("greetspec-run-new", time.Now())
	if err := os.WriteFile(filepath.Join(newRun, ".lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(newRun, time.Now(), time.Now())
	liveRun := mk("greetspec-run-live", old)
	lock, err := os.OpenFile(filepath.Join(liveRun, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(liveRun, old, old)
	stalePluginDir := mk("plugin-dir111", old)
	newPluginDir := mk("plugin-dir222", time.Now())
	livePluginDir := mk("plugin-dir333", old)
	ln, err := net.Listen("unix", filepath.Join(livePluginDir, "plugin1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_ = os.Chtimes(livePluginDir, old, old)
	other := mk("something-else", old)

	removed := host.SweepStale(tmp)
	for _, c := range []struct {
		dir  string
		gone bool
	}{{deadRun, true}, {newRun, false}, {liveRun, false}, {stalePluginDir, true}, {newPluginDir, false}, {livePluginDir, false}, {other, false}} {
		_, err := os.Stat(c.dir)
		if gone := os.IsNotExist(err); gone != c.gone {
			t.Errorf("%s: removed %v, want %v (removed: %v)", filepath.Base(c.dir), gone, c.gone, removed)
		}
	}
}

// syncWriter is a buffer safe for the plugin's log goroutines.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
