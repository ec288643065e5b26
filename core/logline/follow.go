package logline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// maxLine bounds one log line; a longer run of bytes without a line ending
// is cut there, so a log that never ends a line cannot grow memory.
const maxLine = 64 << 10

// pollInterval is how often a followed file is checked for new bytes.
const pollInterval = 20 * time.Millisecond

// Follower reads a running server's log as it grows, parses each line and
// hands every connection line, as a ConnectionEvent, to its subscribers. It
// follows a file from its end (like `tail -F`) or the standard output of a
// command (like `journalctl -f -u NAME`).
type Follower struct {
	parser *Parser
	what   string

	mu     sync.Mutex
	subs   map[int]func(*contract.ConnectionEvent)
	nextID int
	err    error // why following stopped, if it did

	stop chan struct{}
	done chan struct{}
	kill func() // ends the command, if any
}

func newFollower(p *Parser, what string) *Follower {
	return &Follower{parser: p, what: what, subs: map[int]func(*contract.ConnectionEvent){}, stop: make(chan struct{}), done: make(chan struct{})}
}

// FollowFile follows the file at path from its current end, as `tail -F`
// does: bytes appended later are read as they arrive, and a file replaced
// (rotated) or truncated under the same path is read again from its start.
func FollowFile(path string, p *Parser) (*Follower, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("log file %s: %w", path, err)
	}
	fl := newFollower(p, "log file "+path)
	go fl.followFile(path, f)
	return fl, nil
}

func (fl *Follower) followFile(path string, f *os.File) {
	defer close(fl.done)
	defer func() { _ = f.Close() }()
	var part []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			part = fl.lines(append(part, buf[:n]...))
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			fl.fail(fmt.Errorf("%s: %w", fl.what, err))
			return
		}
		select {
		case <-fl.stop:
			return
		case <-time.After(pollInterval):
		}
		// Rotated (another file now at path) or truncated: start over.
		cur, errPath := os.Stat(path)
		open, errOpen := f.Stat()
		if errPath != nil || errOpen != nil {
			continue // the path may be recreated in a moment
		}
		pos, _ := f.Seek(0, io.SeekCurrent)
		if !os.SameFile(cur, open) {
			if nf, err := os.Open(path); err == nil {
				_ = f.Close()
				f, part = nf, nil
			}
		} else if cur.Size() < pos {
			_, _ = f.Seek(0, io.SeekStart)
			part = nil
		}
	}
}

// FollowCommand starts argv (no shell) and follows its standard output as
// the server's log; its standard error is kept for error messages. The
// command and everything it starts (its process group) are killed by Close.
func FollowCommand(argv []string, p *Parser) (*Follower, error) {
	if len(argv) == 0 {
		return nil, errors.New("log command: empty command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &boundedBuffer{max: 4096}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("log command %q: %w", argv[0], err)
	}
	fl := newFollower(p, fmt.Sprintf("log command %q", argv))
	var once sync.Once
	fl.kill = func() {
		once.Do(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	}
	go func() {
		defer close(fl.done)
		r := bufio.NewReaderSize(out, 32<<10)
		var part []byte
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				part = fl.lines(append(part, buf[:n]...))
			}
			if err != nil {
				break
			}
		}
		if len(part) > 0 {
			fl.line(part)
		}
		werr := cmd.Wait()
		fl.kill() // anything it started goes too
		select {
		case <-fl.stop:
		default:
			fl.fail(fmt.Errorf("%s ended (%v); its error output: %q", fl.what, werr, stderr.String()))
		}
	}()
	return fl, nil
}

// lines handles every complete line in b and returns the rest.
func (fl *Follower) lines(b []byte) []byte {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		fl.line(b[:i])
		b = b[i+1:]
	}
	if len(b) > maxLine {
		fl.line(b)
		return nil
	}
	return append([]byte(nil), b...)
}

func (fl *Follower) line(b []byte) {
	ev := fl.parser.Event(b)
	if ev == nil {
		return
	}
	fl.mu.Lock()
	subs := make([]func(*contract.ConnectionEvent), 0, len(fl.subs))
	for _, fn := range fl.subs {
		subs = append(subs, fn)
	}
	fl.mu.Unlock()
	for _, fn := range subs {
		fn(ev)
	}
}

func (fl *Follower) fail(err error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.err == nil {
		fl.err = err
	}
}

// Subscribe calls fn with every connection line read from now on, until the
// returned function is called. fn must not block.
func (fl *Follower) Subscribe(fn func(*contract.ConnectionEvent)) (cancel func()) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	id := fl.nextID
	fl.nextID++
	fl.subs[id] = fn
	return func() {
		fl.mu.Lock()
		defer fl.mu.Unlock()
		delete(fl.subs, id)
	}
}

// Err says why following stopped before Close (the command exited, the file
// could not be read), or nil while it goes on.
func (fl *Follower) Err() error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.err
}

// Close stops following, kills the command if any, and waits until nothing
// is left running.
func (fl *Follower) Close() {
	select {
	case <-fl.stop:
	default:
		close(fl.stop)
	}
	if fl.kill != nil {
		fl.kill()
	}
	<-fl.done
}

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (w *boundedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}
