package host_test

import (
	"context"
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
	"go.uber.org/goleak"
)

// The test binary doubles as a plugin: launched with contract.BuiltinEnv set
// it serves the behaviour named by that variable.
func TestMain(m *testing.M) {
	switch os.Getenv(contract.BuiltinEnv) {
	case "":
		testsupport.Main(m)
	case "echo":
		contract.Serve(contract.Plugins{Server: &stubServer{}})
	case "spawner":
		// Like the exec adapter: a child in a process group of its own,
		// whose PID the test reads from the file named in SPAWN_PID_FILE.
		child := exec.Command("sleep", "60")
		child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := child.Start(); err != nil {
			os.Exit(4)
		}
		_ = os.WriteFile(os.Getenv("SPAWN_PID_FILE"), []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		contract.Serve(contract.Plugins{Server: &stubServer{}})
	case "exit-at-start":
		os.Stderr.WriteString("stub plugin: giving up before the handshake\n")
		os.Exit(3)
	case "garbage":
		os.Stdout.WriteString("this is not a handshake\n")
		time.Sleep(time.Minute)
	case "silent":
		time.Sleep(time.Minute)
	case "fork-daemon":
		srv, err := hostile.NewForkDaemon(&stubServer{})
		if err != nil {
			os.Exit(4)
		}
		contract.Serve(contract.Plugins{Server: srv})
	case "stall-tls":
		hostile.StallTLSHandshake()
	case "ansi-exit":
		os.Stderr.WriteString(hostile.ANSIText + "\n")
		os.Exit(3)
	case "ansi-client":
		os.Stderr.WriteString(hostile.ANSIText + "\n")
		contract.Serve(contract.Plugins{Client: hostile.ANSIClient{Mode: os.Getenv("ANSI_MODE")}})
	}
	os.Exit(0)
}

// stubServer listens and reports nothing; enough to exercise the contract.
type stubServer struct{ ln net.Listener }

func (s *stubServer) Start(_ context.Context, req *contract.StartRequest, _ func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	ln, err := net.Listen("tcp", req.GetListenAddress())
	if err != nil {
		return nil, err
	}
	s.ln = ln
	return &contract.StartResponse{Address: ln.Addr().String()}, nil
}

func (s *stubServer) Stop(context.Context) error { return s.ln.Close() }

func launch(t *testing.T, behaviour string, opts host.Options) (*host.Plugin, error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := host.ParseRef(host.BuiltinPrefix+behaviour, self)
	if err != nil {
		t.Fatal(err)
	}
	return host.Launch(spec, opts)
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestLaunchServeAndClose(t *testing.T) {
	// No goroutine of the launch (go-plugin's, gRPC's, the runner's)
	// outlives Close.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p, err := launch(t, "echo", host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	srv, err := p.Server()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.GetAddress(), "127.0.0.1:") || strings.HasSuffix(resp.GetAddress(), ":0") {
		t.Fatalf("bound address %q: want 127.0.0.1 and a real port", resp.GetAddress())
	}
	p.Close()
	if alive(pid) {
		t.Fatalf("plugin process %d still alive after Close", pid)
	}
	p.Close() // idempotent
}

func TestPluginKilledMidwayIsExplained(t *testing.T) {
	p, err := launch(t, "echo", host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv, err := p.Server()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = srv.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0"})
	if err == nil {
		t.Fatal("call into a killed plugin succeeded")
	}
	err = p.Err("Start", err)
	for _, want := range []string{"builtin:echo", "Start", "signal: killed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if !host.IsPluginError(err) || !p.Exited() {
		t.Errorf("want a PluginError for an exited plugin, got %v (exited %v)", err, p.Exited())
	}
}

func TestBadPluginsFailClearly(t *testing.T) {
	for _, c := range []struct {
		behaviour string
		want      []string
	}{
		{"exit-at-start", []string{"builtin:exit-at-start", "exit status 3", "giving up before the handshake"}},
		{"garbage", []string{"builtin:garbage", "this is not a handshake"}},
		{"silent", []string{"builtin:silent", "timeout"}},
	} {
		t.Run(c.behaviour, func(t *testing.T) {
			start := time.Now()
			p, err := launch(t, c.behaviour, host.Options{StartTimeout: 2 * time.Second})
			if err == nil {
				p.Close()
				t.Fatal("launch succeeded")
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("failing launch took %v", took)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseRef(t *testing.T) {
	if _, err := host.ParseRef("/no/such/plugin", "self"); err == nil || !strings.Contains(err.Error(), "/no/such/plugin") {
		t.Errorf("missing binary: got %v", err)
	}
	if _, err := host.ParseRef("/", "self"); err == nil {
		t.Error("a directory was accepted as a plugin")
	}
	if _, err := host.ParseRef("builtin:", "self"); err == nil {
		t.Error("empty builtin name accepted")
	}
	s, err := host.ParseRef(`sh -c 'echo "a b"'`, "self")
	if err != nil || len(s.Args) != 2 || s.Args[1] != `echo "a b"` {
		t.Errorf("quoted words: %+v %v", s, err)
	}
}

func TestCloseKillsDescendantsInOtherGroups(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Setenv("SPAWN_PID_FILE", pidFile)
	p, err := launch(t, "spawner", host.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(string(data))
	if !alive(child) {
		t.Fatalf("spawned child %d not running before Close", child)
	}
	p.Close()
	// The child is killed; it may stay a zombie of the reparented init
	// for a moment, so look at its state rather than only its existence.
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) && !zombie(child) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the plugin survived Close", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // gone
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}
