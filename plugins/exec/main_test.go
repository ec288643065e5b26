package execadapter

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Most tests here wait: for a timeout, a kill grace, a program that
	// starts late. They run in parallel, more of them than there are
	// CPUs (go test's default for -parallel), unless -parallel is given.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(max(8, runtime.GOMAXPROCS(0))))
	}
	goleak.VerifyTestMain(m)
}

// python returns the Python interpreter the helper programs run with.
func python(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; the helper programs need it")
	}
	return p
}

// testdata returns the absolute path of a helper program, single-quoted for
// a command template.
func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return "'" + p + "'"
}

// eventually polls cond every 10 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPID waits for a helper program to write its PID file.
func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	eventually(t, 10*time.Second, "no PID in "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// gone reports whether pid no longer runs: it does not exist, or it is a
// zombie waiting for whoever inherited it to reap it.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// waitGone fails the test unless every pid stops running soon. The adapter
// has already killed them; only the kernel's bookkeeping may lag.
func waitGone(t *testing.T, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		deadline := time.Now().Add(5 * time.Second)
		for !gone(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL) // do not leak it past a failed test
				t.Errorf("after 5s: process %d still runs", pid)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// greetingServer is a Go greeting server for the client tests.
type greetingServer struct {
	ln    net.Listener
	quit  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	names []string
}

// startGreetingServer serves until the test ends. mode "greet" reads the
// name until end of stream and replies with the greeting; "close" closes
// without replying; "reset" resets the connection instead of replying;
// "hang" reads the name and then neither replies nor closes.
func startGreetingServer(t *testing.T, mode string) *greetingServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &greetingServer{ln: ln, quit: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				name, _ := io.ReadAll(io.LimitReader(conn, 1024))
				s.mu.Lock()
				s.names = append(s.names, string(name))
				s.mu.Unlock()
				switch mode {
				case "greet":
					_, _ = conn.Write([]byte("welcome to Asif server"))
				case "reset":
					_ = conn.(*net.TCPConn).SetLinger(0)
				case "hang":
					<-s.quit
				}
			}()
		}
	}()
	t.Cleanup(func() {
		close(s.quit)
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *greetingServer) addr() string { return s.ln.Addr().String() }

func (s *greetingServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...)
}
