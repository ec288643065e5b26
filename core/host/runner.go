package host

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// processRunner starts a plugin in a process group of its own, so that a
// plugin that is a wrapper (a shell, an interpreter, the exec adapter) dies
// with all its children, and with a parent-death signal, so that it dies even
// when the host is killed. It keeps the exit status and the last lines of
// stderr so that errors can say why a plugin went away.
type processRunner struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr io.ReadCloser
	tail   *lineTail
	pinned *pin // checked again just before the start

	startMu  sync.Mutex    // orders Start before a kill from another goroutine
	exited   chan struct{} // closed when the process has been waited for
	waitOnce sync.Once
	waitErr  error
}

var _ runner.Runner = (*processRunner)(nil)

func newProcessRunner(spec Spec, env []string, token string, tail *lineTail, pinned *pin) (*processRunner, error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	// The launch's token joins the run's (inherited from the host's
	// environment), so the watchdog finds the plugin's processes too.
	cmd.Env = withToken(append(append(os.Environ(), spec.Env...), env...), token)
	cmd.Dir = spec.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	var out io.ReadCloser = stdout
	if spec.Builtin {
		out = newPlainHandshake(stdout)
	}
	return &processRunner{
		cmd:    cmd,
		stdout: out,
		stderr: &teeReadCloser{ReadCloser: stderr, w: tail},
		tail:   tail,
		pinned: pinned,
		exited: make(chan struct{}),
	}, nil
}

func (r *processRunner) Start(context.Context) error {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	if err := r.pinned.recheck(); err != nil {
		return err
	}
	if err := r.cmd.Start(); err != nil {
		return err
	}
	return nil
}

func (r *processRunner) Diagnose(context.Context) string {
	return r.tail.String()
}

func (r *processRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *processRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *processRunner) Name() string          { return r.cmd.Path }

// Wait waits for the process once; later calls return the same result.
func (r *processRunner) Wait(context.Context) error {
	r.waitOnce.Do(func() {
		r.waitErr = r.cmd.Wait()
		close(r.exited)
	})
	<-r.exited
	return r.waitErr
}

// hasExited reports whether the process has been waited for.
func (r *processRunner) hasExited() bool {
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}

// Kill kills the whole process group. go-plugin waits for the exit itself.
func (r *processRunner) Kill(context.Context) error {
	r.killGroup()
	return nil
}

func (r *processRunner) killGroup() {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	if r.cmd.Process == nil {
		return
	}
	select {
	case <-r.exited:
		// The leader is gone and its PID may be reused; children that
		// outlived it still carry its group ID, which is not reused while
		// any member lives, so killing the group is still safe.
	default:
	}
	pid := r.cmd.Process.Pid
	select {
	case <-r.exited:
	default:
		killTree(pid) // while the parent links still lead to them
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = r.cmd.Process.Kill()
	}
}

func (r *processRunner) ID() string {
	if r.cmd.Process == nil {
		return ""
	}
	return strconv.Itoa(r.cmd.Process.Pid)
}

func (r *processRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *processRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

// exitDescription says how the process ended, or "" while it runs.
func (r *processRunner) exitDescription() string {
	select {
	case <-r.exited:
	default:
		return ""
	}
	if r.waitErr == nil {
		return "exited with status 0"
	}
	var ee *exec.ExitError
	if errors.As(r.waitErr, &ee) {
		return fmt.Sprintf("exited: %v", ee)
	}
	return fmt.Sprintf("exited: %v", r.waitErr)
}

// teeReadCloser copies what go-plugin reads from stderr into the tail.
type teeReadCloser struct {
	io.ReadCloser
	w io.Writer
}

func (t *teeReadCloser) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		_, _ = t.w.Write(p[:n])
	}
	return n, err
}

// newLogger returns the hclog logger go-plugin uses for a plugin's messages.
func newLogger(name string, out io.Writer, level hclog.Level) hclog.Logger {
	if out == nil {
		out = io.Discard
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: escapingWriter{out}, Level: level})
}

// plainHandshake passes a plugin's standard output on, with its first line,
// the go-plugin handshake, cut to its first five fields: a plugin spoken to
// without TLS (Spec.Builtin) has no certificate to offer, and a line that
// offered one anyway would make go-plugin load it into a TLS configuration
// that does not exist.
type plainHandshake struct {
	io.ReadCloser
	r       *bufio.Reader // reads the ReadCloser
	pending []byte        // the rewritten first line, not yet returned
	started bool          // the first line has been read
}

func newPlainHandshake(rc io.ReadCloser) *plainHandshake {
	return &plainHandshake{ReadCloser: rc, r: bufio.NewReader(rc)}
}

func (h *plainHandshake) Read(b []byte) (int, error) {
	if !h.started {
		h.started = true
		line, err := h.r.ReadBytes('\n')
		first, end := bytes.CutSuffix(line, []byte("\n"))
		if fields := bytes.Split(first, []byte("|")); len(fields) > 5 {
			first = bytes.Join(fields[:5], []byte("|"))
		}
		h.pending = first
		if end {
			h.pending = append(first, '\n')
		}
		if len(h.pending) == 0 {
			return 0, err
		}
	}
	if len(h.pending) > 0 {
		n := copy(b, h.pending)
		h.pending = h.pending[n:]
		return n, nil
	}
	return h.r.Read(b)
}
