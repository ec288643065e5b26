package host

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Containment of a whole greetspec run.
//
// Contain makes the calling process (greetspec) a child subreaper, so that
// processes orphaned by plugins or wrapped programs (a double-forked daemon)
// are re-parented to greetspec rather than to init and stay in its process
// tree; it marks everything greetspec starts with a run token (ContainEnv);
// it gives the run a temporary directory of its own, where go-plugin's
// socket directories and the plugins' temporary files go (TMPDIR); and it
// starts a watchdog: greetspec's own binary re-executed in a mode of its
// own, holding the read end of a pipe whose write end only greetspec holds.
// When the pipe closes, because greetspec ended in any way, even by
// SIGKILL, the watchdog kills every process carrying the run token, removes
// the run directory and exits. Shutdown does the same at once, from inside,
// and waits for the watchdog.

const (
	watchdogEnv    = "GREETSPEC_WATCHDOG"     // the run token, in the watchdog
	watchdogDirEnv = "GREETSPEC_WATCHDOG_DIR" // the run directory, in the watchdog
	runDirPrefix   = "greetspec-run-"
	lockName       = ".lock"
	// InterruptedStatus is the exit status of a run stopped by a signal.
	InterruptedStatus = 4
)

var contained struct {
	mu       sync.Mutex
	token    string
	dir      string
	lock     *os.File
	pipe     *os.File // write end; closing it wakes the watchdog
	watchdog *exec.Cmd
	done     bool

	interrupt func(os.Signal)
	grace     time.Duration
}

// Token returns the run's containment token, or "" before Contain.
func Token() string {
	contained.mu.Lock()
	defer contained.mu.Unlock()
	return contained.token
}

// RunDir returns the run's temporary directory, or "" before Contain.
func RunDir() string {
	contained.mu.Lock()
	defer contained.mu.Unlock()
	return contained.dir
}

// Contain sets up the containment of this run (see the comment at the top
// of this file): child subreaper, run token, run directory, watchdog, and a
// last-resort handler for SIGINT, SIGTERM and SIGHUP (see OnInterrupt). It
// first removes the temporary directories of runs that died without
// cleaning up. Call it once, before anything is started; on error the run
// goes on uncontained (the error says why). self is the greetspec
// executable, which must call ServeWatchdogIfRequested at the top of main.
func Contain(self string) error {
	contained.mu.Lock()
	defer contained.mu.Unlock()
	if contained.token != "" {
		return errors.New("containment already set up")
	}
	SweepStale(os.TempDir())
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("cannot become a child subreaper: %w", err)
	}
	token := newToken("run-")
	dir, err := os.MkdirTemp("", runDirPrefix)
	if err != nil {
		return fmt.Errorf("cannot create the run directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("cannot lock the run directory: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	wd := exec.Command(self)
	wd.Env = append(withoutVar(os.Environ(), ContainEnv), watchdogEnv+"="+token, watchdogDirEnv+"="+dir)
	wd.Stdin = r
	wd.Stderr = os.Stderr
	// The lock travels with the watchdog, so the directory counts as in
	// use for as long as either process lives.
	wd.ExtraFiles = []*os.File{lock}
	// A group of its own: a terminal's ^C must not reach it.
	wd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := wd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		_ = os.RemoveAll(dir)
		return fmt.Errorf("cannot start the watchdog: %w", err)
	}
	_ = r.Close()
	// Everything started from now on carries the token and puts its
	// temporary files in the run directory.
	_ = os.Setenv(ContainEnv, strings.Trim(os.Getenv(ContainEnv)+","+token, ","))
	_ = os.Setenv("TMPDIR", dir)
	contained.token, contained.dir, contained.lock = token, dir, lock
	contained.pipe, contained.watchdog = w, wd

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go handleSignals(sigs)
	return nil
}

// DefaultInterruptGrace is how long greetspec may take to end on its own
// after a first SIGINT, SIGTERM or SIGHUP when no interrupt flow is
// registered with OnInterrupt.
const DefaultInterruptGrace = 10 * time.Second

// OnInterrupt registers the run's orderly interrupt flow: on the first
// SIGINT, SIGTERM or SIGHUP, fn is called (in a goroutine of its own) and
// the process has grace to end by itself (its normal exit path runs
// Shutdown). A second signal, or grace running out, ends it at once with
// status InterruptedStatus after Shutdown. fn may be nil when the flow
// watches the signals itself (signal.Notify): then only grace is set.
// Without a registration the grace is DefaultInterruptGrace.
func OnInterrupt(fn func(os.Signal), grace time.Duration) {
	contained.mu.Lock()
	defer contained.mu.Unlock()
	contained.interrupt, contained.grace = fn, grace
}

func handleSignals(sigs chan os.Signal) {
	sig := <-sigs
	contained.mu.Lock()
	fn, grace := contained.interrupt, contained.grace
	contained.mu.Unlock()
	if grace <= 0 {
		grace = DefaultInterruptGrace
	}
	if fn != nil {
		go fn(sig)
	}
	select {
	case sig = <-sigs:
		fmt.Fprintf(os.Stderr, "greetspec: interrupted again by %v: stopping every plugin and program now\n", sig)
	case <-time.After(grace):
		fmt.Fprintf(os.Stderr, "greetspec: interrupted by %v and still running after %v: stopping every plugin and program now\n", sig, grace)
	}
	Exit(InterruptedStatus)
}

var exitOnce sync.Once

// Exit runs Shutdown and ends the process with status code. The first call
// decides the status: a later or concurrent call (the normal end of a run
// racing the interrupt handler) waits for the first to end the process.
func Exit(code int) {
	exitOnce.Do(func() {
		Shutdown()
		os.Exit(code)
	})
	select {}
}

// Shutdown kills every process of the run (those carrying its token and
// every descendant of greetspec), has the watchdog check again and remove
// the run directory, and waits for it, for at most a few seconds. It is
// safe to call more than once; without Contain it does nothing.
func Shutdown() {
	contained.mu.Lock()
	defer contained.mu.Unlock()
	if contained.token == "" || contained.done {
		return
	}
	contained.done = true
	killTree(os.Getpid(), contained.watchdog.Process.Pid)
	killTagged(contained.token, 5*time.Second)
	_ = contained.pipe.Close()
	exited := make(chan struct{})
	go func() {
		_ = contained.watchdog.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
	_ = contained.lock.Close()
	_ = os.RemoveAll(contained.dir)
}

// ServeWatchdogIfRequested runs the watchdog and exits when this process was
// started as one by Contain; otherwise it returns at once. Call it first
// thing in main (and in a TestMain that runs the CLI).
func ServeWatchdogIfRequested() {
	token, ok := os.LookupEnv(watchdogEnv)
	if !ok {
		return
	}
	// Signals meant for greetspec (a terminal's ^C, a kill of its group)
	// must not end the watchdog before its job is done.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	_, _ = io.Copy(io.Discard, os.Stdin) // returns when greetspec is gone
	killTagged(token, 10*time.Second)
	if dir := os.Getenv(watchdogDirEnv); strings.Contains(filepath.Base(dir), runDirPrefix) {
		_ = os.RemoveAll(dir)
	}
	os.Exit(0)
}

// SweepStale removes, in the temporary directory tmp, what runs that died
// without cleaning up left behind: greetspec run directories whose lock no
// process holds, and go-plugin's "plugin-dir*" socket directories that are
// older than a minute, owned by this user, and hold no socket anyone
// listens on. It returns the directories it removed.
func SweepStale(tmp string) []string {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil
	}
	var removed []string
	var live map[string]bool
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(tmp, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), runDirPrefix):
			// Only directories older than a minute: a run that is creating
			// its directory holds its lock a moment later, and a sweeper
			// that looked in between (or took the lock to test it) would
			// break that run.
			if !ownedAndOld(path, time.Minute) || runDirInUse(path) {
				continue
			}
		case strings.HasPrefix(e.Name(), "plugin-dir"):
			if !ownedAndOld(path, time.Minute) {
				continue
			}
			if live == nil {
				live = listeningUnixSockets()
			}
			if holdsLiveSocket(path, live) {
				continue
			}
		default:
			continue
		}
		if os.RemoveAll(path) == nil {
			removed = append(removed, path)
		}
	}
	return removed
}

// runDirInUse reports whether some process holds the run directory's lock.
// A directory without a lock file is in use only while it is new (its
// run may be creating it).
func runDirInUse(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
	if err != nil {
		return !ownedAndOld(dir, time.Minute)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// ownedAndOld reports whether path belongs to this user and was last
// modified at least age ago.
func ownedAndOld(path string, age time.Duration) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Getuid() {
		return false
	}
	return time.Since(fi.ModTime()) >= age
}

// listeningUnixSockets returns the paths of the bound Unix sockets in this
// network namespace.
func listeningUnixSockets() map[string]bool {
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 8 && strings.HasPrefix(f[7], "/") {
			out[f[7]] = true
		}
	}
	return out
}

func holdsLiveSocket(dir string, live map[string]bool) bool {
	if live == nil {
		return true // cannot tell: keep it
	}
	for p := range live {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

func withoutVar(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
