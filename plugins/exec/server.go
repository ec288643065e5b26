package execadapter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/greetspec/greetspec/core/logline"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// serverPlaceholders are the placeholders a server command template may
// use. {idle_timeout_ms} is the idle timeout T the host asked for, in
// milliseconds (0 when the host leaves it to the implementation), for
// programs that can be told T.
var serverPlaceholders = []string{"host", "port", "addr", "idle_timeout_ms"}

// Timings of the server program's life cycle.
const (
	pollInterval = 25 * time.Millisecond  // between readiness probes, at most
	pollFirst    = 2 * time.Millisecond   // between the first readiness probes (doubling up to pollInterval)
	probeTimeout = 250 * time.Millisecond // one probe's connect
	startMargin  = time.Second            // readiness wait ends this long before Start's deadline
	probeDrain   = 2 * time.Second        // bound on reading the probe's reply
	stopGrace    = 2 * time.Second        // SIGTERM to SIGKILL
	outputGrace  = 2 * time.Second        // wait for output after the group is dead
	quietHint    = time.Second            // silence after the served probe that earns a hint
	drainLimit   = 250 * time.Millisecond // for a kept program's connections to end after a spec
	fenceLimit   = 2 * time.Second        // for a kept program to log the fence connection
)

// Server runs a server program and turns its connection log lines into
// ConnectionEvents. It implements contract.Server, contract.Describer,
// contract.ServerExit and contract.ServerKeeper: after a run that did not
// fail (StopKeeping) it keeps the program running for a later Start with
// the same command line, and starts a fresh one otherwise.
type Server struct {
	cfg      ServerConfig
	tmpl     *template
	parser   *logline.Parser
	stateMu  sync.Mutex
	running  *serverRun   // the current run's program; nil when stopped
	kept     []*serverRun // idle programs kept by StopKeeping, oldest first
	ending   sync.WaitGroup
	stopping sync.Mutex // serialises Start and Stop
	// cpuWait returns a reader of the CPU wait so far of the process
	// group it is given (groupCPUWait; tests inject their own).
	cpuWait func(pgid int) func() time.Duration
}

// maxKept bounds the idle programs a Server keeps: one per command line
// the specs use (they differ in {idle_timeout_ms}), oldest ended first.
const maxKept = 4

var (
	_ contract.Server       = (*Server)(nil)
	_ contract.Describer    = (*Server)(nil)
	_ contract.ServerExit   = (*Server)(nil)
	_ contract.ServerKeeper = (*Server)(nil)
)

// NewServer validates cfg's command template and log pattern and returns a
// Server for it. It starts nothing.
func NewServer(cfg ServerConfig) (contract.Server, error) {
	return newServer(cfg)
}

func newServer(cfg ServerConfig) (*Server, error) {
	if cfg.Command == "" {
		return nil, fmt.Errorf("exec server: no command (set %s)", EnvServerCmd)
	}
	tmpl, err := parseTemplate(cfg.Command, serverPlaceholders...)
	if err != nil {
		return nil, fmt.Errorf("exec server: %w", err)
	}
	if !tmpl.uses["port"] && !tmpl.uses["addr"] {
		return nil, fmt.Errorf("exec server: command template %q has neither {port} nor {addr}: the program must be told where to listen (for example `python3 server.py {host} {port}`)", cfg.Command)
	}
	if cfg.LogPattern == "" {
		cfg.LogPattern = DefaultLogPattern
	}
	parser, err := logline.New(cfg.LogPattern)
	if err != nil {
		return nil, fmt.Errorf("exec server: %w", err)
	}
	if cfg.ReadyTimeout < 0 {
		return nil, fmt.Errorf("exec server: negative ready timeout %v", cfg.ReadyTimeout)
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	return &Server{cfg: cfg, tmpl: tmpl, parser: parser, cpuWait: groupCPUWait}, nil
}

// Describe names the adapter after its command template.
func (s *Server) Describe() *contract.DescribeResponse {
	return &contract.DescribeResponse{
		Name:         "exec: " + s.cfg.Command,
		Capabilities: []string{contract.CapabilityEventsFromLog},
	}
}

// Start starts a program listening on req's address and returns once its
// port accepts connections. A program kept by StopKeeping is reused instead
// when it is still running and req gives it the same command line (port 0
// stands for the kept program's port; programs kept for other command
// lines stay idle for later runs): Start then makes a fence connection
// like the readiness probe and waits for its log line, so that lines of an
// earlier run's connections, which the program wrote before it, are
// dropped and not reported to this run. A kept program that exited, has a
// different command line, or does not log the fence in time is ended and a
// fresh one started.
//
// With port 0 the adapter picks a free port itself, because the program is
// told a port, not asked for one: a random free port below the kernel's
// ephemeral range (see freePort), which no other program gets by asking
// for port 0 or by connecting out.
//
// The readiness probe is a real connection: it connects, sends nothing,
// half-closes and reads whatever the program answers, so a conforming
// program greets it as an empty name. The first log line whose peer port is
// the probe's is therefore dropped, not reported.
func (s *Server) Start(ctx context.Context, req *contract.StartRequest, report func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	s.stopping.Lock()
	defer s.stopping.Unlock()
	s.stateMu.Lock()
	prev := s.running
	s.stateMu.Unlock()
	host, port, err := listenHostPort(req.GetListenAddress())
	if err != nil {
		return nil, fmt.Errorf("exec server: %w", err)
	}
	if prev != nil {
		select {
		case <-prev.exited:
			// The previous program ended on its own and was never
			// stopped: say so instead of starting another.
			prev.stop(ctx, false)
			s.setRunning(nil)
			return nil, fmt.Errorf("exec server: not started, because %s", prev.exitReport())
		default:
			return nil, errors.New("exec server: already started")
		}
	}
	if k := s.takeKept(req, host, port); k != nil {
		err := k.fence(ctx, report)
		if err == nil {
			s.setRunning(k)
			return &contract.StartResponse{Address: net.JoinHostPort(k.host, k.port)}, nil
		}
		s.end(k, err.Error())
	}

	if port == "0" {
		if port, err = freePort(host); err != nil {
			return nil, fmt.Errorf("exec server: finding a free port on %s: %w", host, err)
		}
	}
	addr := net.JoinHostPort(host, port)
	argv := s.argv(req, host, port)

	r := &serverRun{srv: s, report: report, probing: true, host: host, port: port, exited: make(chan struct{}), died: make(chan struct{}), quit: make(chan struct{})}
	if err := r.start(argv, s.cfg.Dir); err != nil {
		return nil, fmt.Errorf("exec server: starting %q: %w", argv, err)
	}
	if err := r.awaitReady(ctx, probeAddress(host, port), s.cfg.ReadyTimeout); err != nil {
		r.stop(context.Background(), false)
		last := "no output"
		if l := r.out.lastLine(); l != "" {
			last = "its last output: " + strconv.Quote(escapeText(l))
		}
		return nil, fmt.Errorf("exec server: the server program %q %v (%s)%s", argv, err, last, r.out.String())
	}
	if err := ctx.Err(); err != nil {
		// The caller gave up meanwhile: it will not stop what it does not
		// know was started.
		r.stop(context.Background(), false)
		return nil, fmt.Errorf("exec server: the Start call ended (%v) just as the server program %q became ready; it was stopped", err, argv)
	}
	s.setRunning(r)
	return &contract.StartResponse{Address: addr}, nil
}

// argv fills the command template for req on host and port.
func (s *Server) argv(req *contract.StartRequest, host, port string) []string {
	return s.tmpl.fill(map[string]string{
		"host": host, "port": port, "addr": net.JoinHostPort(host, port),
		"idle_timeout_ms": strconv.FormatUint(uint64(req.GetIdleTimeoutMs()), 10),
	})
}

func (s *Server) setRunning(r *serverRun) {
	s.stateMu.Lock()
	s.running = r
	s.stateMu.Unlock()
}

// takeKept returns the kept program that can serve req on host and port
// (port 0: any), taking it out of the kept ones, or nil. Kept programs
// that exited meanwhile are ended: no run can be blamed for an exit
// between runs, which a fresh program per run would not have shown either.
// So is one holding the port req names for another command line.
func (s *Server) takeKept(req *contract.StartRequest, host, port string) *serverRun {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	var found *serverRun
	idle := s.kept[:0]
	for _, k := range s.kept {
		select {
		case <-k.exited:
			s.endLocked(k, "it "+exitStatusText(k.exitErr)+" between specs")
			continue
		default:
		}
		same := host == k.host && (port == "0" || port == k.port) && slices.Equal(s.argv(req, k.host, k.port), k.argv)
		switch {
		case same && found == nil:
			found = k
		case port != "0" && port == k.port:
			s.endLocked(k, "this spec needs its port for another command line")
		default:
			idle = append(idle, k)
		}
	}
	clear(s.kept[len(idle):])
	s.kept = idle
	return found
}

// end ends a kept program in the background, saying why.
func (s *Server) end(r *serverRun, why string) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.endLocked(r, why)
}

// endLocked is end; the caller holds s.stateMu.
func (s *Server) endLocked(r *serverRun, why string) {
	log.Printf("exec server: ending the program kept running (%q), because %s", r.argv, why)
	s.ending.Add(1)
	go func() {
		defer s.ending.Done()
		r.stop(context.Background(), true)
	}()
}

// Stop ends the program's whole process group: SIGTERM, up to two seconds
// of grace, then SIGKILL. It returns once the program is gone and its
// output has been read, so no event is reported after it.
func (s *Server) Stop(ctx context.Context) error {
	s.stopping.Lock()
	defer s.stopping.Unlock()
	return s.stopLocked(ctx)
}

// stopLocked is Stop; the caller holds s.stopping.
func (s *Server) stopLocked(ctx context.Context) error {
	s.stateMu.Lock()
	r := s.running
	s.running = nil
	s.stateMu.Unlock()
	if r == nil {
		return nil
	}
	r.stop(ctx, true)
	if r.ownExit {
		return fmt.Errorf("exec server: %s", r.exitReport())
	}
	return nil
}

// StopKeeping implements contract.ServerKeeper: it ends the run, but keeps
// the program running for a later Start when it can be trusted to serve
// it as a fresh one would: it is still running and, within drainLimit, it
// has logged the readiness probe (so its log lines arrive as they are
// written) and holds no connection any more (so every connection of the
// ended run has been served and logged). Otherwise it stops the program as
// Stop does, reporting an exit during the run the same way.
//
// From its return until the next Start, log lines are dropped.
func (s *Server) StopKeeping(ctx context.Context) error {
	s.stopping.Lock()
	defer s.stopping.Unlock()
	s.stateMu.Lock()
	r := s.running
	s.stateMu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.exited:
		return s.stopLocked(ctx) // it exited during the run: say so
	default:
	}
	if ended(r.cmd.Process.Pid) {
		return s.stopLocked(ctx) // the same, not yet seen by its waiter
	}
	if !r.drained(ctx, share(ctx, drainLimit)) {
		select {
		case <-r.exited:
			// It exited as the run ended, where Stop would have ended it
			// anyway: not blamed on the run, as with Stop.
			s.setRunning(nil)
			r.stop(ctx, true)
			return nil
		default:
		}
		return s.stopLocked(ctx)
	}
	r.markKept()
	s.stateMu.Lock()
	s.running = nil
	s.kept = append(s.kept, r)
	if len(s.kept) > maxKept {
		s.endLocked(s.kept[0], "more command lines were used than are kept")
		s.kept = slices.Delete(s.kept, 0, 1)
	}
	s.stateMu.Unlock()
	return nil
}

// Close ends the current program and every kept one, and returns once
// they are gone. A plugin process need not call it: the programs die with
// the process.
func (s *Server) Close() error {
	err := s.Stop(context.Background())
	s.stopping.Lock()
	s.stateMu.Lock()
	for _, k := range s.kept {
		s.endLocked(k, "the adapter is closed")
	}
	s.kept = nil
	s.stateMu.Unlock()
	s.stopping.Unlock()
	s.ending.Wait()
	return err
}

// Exited implements contract.ServerExit: the returned channel is closed
// when the program of the latest Start exits on its own (once its output
// has been read), and the function says how it ended, with its last stderr
// line and output.
func (s *Server) Exited() (<-chan struct{}, func() error) {
	s.stateMu.Lock()
	r := s.running
	s.stateMu.Unlock()
	if r == nil {
		return nil, func() error { return nil }
	}
	return r.died, func() error { return errors.New(r.exitReport()) }
}

// serverRun is one program started by one Start.
type serverRun struct {
	srv     *Server
	argv    []string
	host    string // where it listens
	port    string
	cmd     *exec.Cmd
	out     tail        // stdout and stderr lines, for messages
	errOut  tail        // stderr lines only
	printed atomic.Bool // it printed at least one line
	served  atomic.Bool // it answered the readiness probe
	bg      sync.WaitGroup
	pipes   []*os.File // read ends of stdout and stderr (pty masters or pipes)
	viaPTY  bool
	lines   sync.WaitGroup

	exited   chan struct{} // closed once the program has been waited for
	died     chan struct{} // closed once it ended on its own and its output is read
	exitErr  error         // how it ended; read after exited is closed
	stopping atomic.Bool   // the adapter is ending it, so its exit is expected
	endedBy  atomic.Bool   // it had ended on its own when the adapter began to end it
	ownExit  bool          // it ended before the adapter ended it; read after exited

	probeWG sync.WaitGroup
	quit    chan struct{} // closed when stop begins

	probeLogged atomic.Bool // its log line for the readiness probe arrived

	mu        sync.Mutex
	report    func(*contract.ConnectionEvent) // nil while kept between runs
	fencing   bool                            // dropping lines until the fence's line
	fencePort string                          // local port of the fence connection, once known
	fenceSeen chan struct{}                   // closed when the fence's line arrived
	next      func(*contract.ConnectionEvent) // report of the run that waits for the fence
	probing   bool                            // readiness not established yet
	pending   []*contract.ConnectionEvent     // events seen while probing
	probePort string                          // local port of the probe that succeeded
	probeConn net.Conn                        // while its reply is being drained
}

// start starts the program with its stdout and stderr each on a
// pseudo-terminal in raw mode (pipes where no pseudo-terminal can be had),
// read by line readers.
func (r *serverRun) start(argv []string, dir string) error {
	r.argv = argv
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	// A terminal makes most programs line-buffer their output; dumb and
	// NO_COLOR keep those that colour a terminal's output from doing so.
	cmd.Env = append(programEnv(), "TERM=dumb", "NO_COLOR=1")
	cmd.SysProcAttr = sysProcAttr()
	writers, err := r.outputs()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = writers[0], writers[1]
	err = cmd.Start()
	closeAll(writers) // the program holds its own copies
	if err != nil {
		closeAll(r.pipes)
		return err
	}
	r.cmd = cmd
	for i, p := range r.pipes {
		r.lines.Add(1)
		go func() {
			defer r.lines.Done()
			readLines(p, func(b []byte) { r.line(b, i == 1) })
		}()
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		r.exitErr = cmd.Wait()
		r.ownExit = !r.stopping.Load() || r.endedBy.Load()
		close(r.exited)
		if r.ownExit {
			r.awaitOutput(outputGrace)
			close(r.died)
			log.Printf("exec server: %s", r.exitReport())
		}
	}()
	return nil
}

// outputs makes the program's stdout and stderr: the slave ends of two
// pseudo-terminals, or of two pipes where no pseudo-terminal can be had.
// The read ends go to r.pipes.
func (r *serverRun) outputs() ([]*os.File, error) {
	var writers []*os.File
	r.viaPTY = true
	for range 2 {
		pr, pw, err := openOutput()
		if err != nil {
			if r.viaPTY {
				log.Printf("exec server: no pseudo-terminal (%v): reading the program's output through pipes, so a program that block-buffers it shows its log lines late", err)
			}
			r.viaPTY = false
			if pr, pw, err = os.Pipe(); err != nil {
				closeAll(r.pipes)
				closeAll(writers)
				return nil, err
			}
		}
		r.pipes = append(r.pipes, pr)
		writers = append(writers, pw)
	}
	return writers, nil
}

// openOutput opens a pseudo-terminal, unless pipesOnly.
func openOutput() (master, slave *os.File, err error) {
	if pipesOnly {
		return nil, nil, errors.New("pseudo-terminals disabled")
	}
	return openPTY()
}

// pipesOnly makes the adapter read through pipes (for tests that show what
// the pseudo-terminal changes).
var pipesOnly = false

// exitReport says how the program ended on its own: its exit status with
// its last line of standard error (a traceback's last line names the
// error) on the first line, then its last lines of output, and a hint when
// it printed nothing at all although connections were made.
func (r *serverRun) exitReport() string {
	msg := fmt.Sprintf("the server program %q %s", r.argv, exitStatusText(r.exitErr))
	if last := r.errOut.lastLine(); last != "" {
		msg += ": " + escapeText(last)
	}
	msg += r.out.String()
	if r.served.Load() && !r.printed.Load() {
		msg += "\n" + bufferedHint
	}
	return msg
}

// bufferedHint explains a server program that printed nothing at all
// while connections were made.
const bufferedHint = "hint: the program printed nothing at all although connections were made (at least the readiness probe); " +
	"if it logs `connected with:` lines, its output may be block-buffered: flush after each line (see CONTRACT.md)"

// exitStatusText says how a program ended: "exited with status N" or
// "was ended by signal S".
func exitStatusText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "was ended by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	if err != nil {
		return "ended: " + err.Error()
	}
	return "exited with status 0"
}

// awaitReady polls a TCP connect to addr until it succeeds, the program
// exits, limit passes or ctx ends. Like a client's kill deadline, limit is
// net of the time the program waited for a CPU: when it passes, the wait
// added since pushes it back, again and again. The wait ends startMargin
// before ctx's deadline whatever the CPU wait, so that the caller gets
// this adapter's account of a program that was not ready rather than its
// own deadline's.
func (r *serverRun) awaitReady(ctx context.Context, addr string, limit time.Duration) error {
	start := time.Now()
	deadline := start.Add(limit)
	hard := start.Add(limit + ClientMaxCPUWait)
	ctxBound := false
	if d, ok := ctx.Deadline(); ok && d.Add(-startMargin).Before(hard) {
		hard, ctxBound = d.Add(-startMargin), true
	}
	if hard.Before(deadline) {
		deadline = hard
	}
	var credit time.Duration
	cpuWait := r.srv.cpuWait(r.cmd.Process.Pid)
	waited := func() time.Duration { return time.Since(start).Round(10 * time.Millisecond) }
	timer := time.NewTimer(0)
	defer timer.Stop()
	// Most programs listen within milliseconds (a compiled one) or tens of
	// them (an interpreter), once per spec after a failed one: the first
	// probes come quickly, then every pollInterval.
	interval := pollFirst
	for {
		select {
		case <-r.exited:
			r.awaitOutput(outputGrace)
			return fmt.Errorf("exited before its port %s accepted a connection: %s", addr, exitText(r.exitErr))
		case <-ctx.Done():
			return fmt.Errorf("was not yet accepting connections on %s when the Start call ended (%v), %v after its start", addr, ctx.Err(), waited())
		case <-timer.C:
		}
		left := time.Until(deadline)
		if left <= 0 && deadline.Before(hard) {
			if more := cpuWait() - credit; more >= minCPUWaitCredit {
				credit += more
				deadline = deadline.Add(more)
				if hard.Before(deadline) {
					deadline = hard
				}
				left = time.Until(deadline)
			}
		}
		if left <= 0 {
			bound := fmt.Sprintf("the ready timeout of %v", limit)
			if credit > 0 {
				bound += fmt.Sprintf(" plus the %v it waited for a CPU", credit.Round(time.Millisecond))
			}
			if ctxBound && !deadline.Before(hard) {
				bound = "the Start call's deadline"
			}
			return fmt.Errorf("did not accept connections on %s within %v of its start (%s; is it listening on the {host} and {port} it was given?)", addr, waited(), bound)
		}
		conn, err := net.DialTimeout("tcp", addr, min(left, probeTimeout))
		if err == nil {
			r.probed(conn)
			return nil
		}
		timer.Reset(min(left, interval))
		interval = min(2*interval, pollInterval)
	}
}

// probed records the successful probe connection, ends probing and reports
// the events held back meanwhile. The probe itself is ended orderly in the
// background: half-close, read the program's answer for a bounded time,
// close.
func (r *serverRun) probed(conn net.Conn) {
	_, port, _ := net.SplitHostPort(conn.LocalAddr().String())
	r.mu.Lock()
	r.probePort = port
	r.probeConn = conn
	r.probing = false
	pending := r.pending
	r.pending = nil
	var deliver []*contract.ConnectionEvent
	for _, ev := range pending {
		if !r.isProbeLocked(ev) {
			deliver = append(deliver, ev)
		}
	}
	report := r.report
	r.mu.Unlock()
	for _, ev := range deliver {
		report(ev)
	}

	r.probeWG.Add(1)
	go func() {
		defer r.probeWG.Done()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_ = conn.SetReadDeadline(time.Now().Add(probeDrain))
		_, err := io.Copy(io.Discard, conn)
		_ = conn.Close()
		if err != nil {
			return // not answered: nothing to expect in the log
		}
		r.served.Store(true)
		// The program served the probe, so a conforming one logs it.
		t := time.NewTimer(quietHint)
		defer t.Stop()
		select {
		case <-t.C:
			if !r.printed.Load() {
				log.Printf("exec server: %q: %s", r.argv, bufferedHint)
			}
		case <-r.quit:
		}
	}()
}

// isProbeLocked reports (once) whether ev is the probe's connection. The
// caller holds r.mu.
func (r *serverRun) isProbeLocked(ev *contract.ConnectionEvent) bool {
	if r.probePort == "" {
		return false
	}
	if peerPort(ev) == r.probePort {
		r.probePort = "" // one probe, one log line: a later client may reuse the port
		r.probeLogged.Store(true)
		return true
	}
	return false
}

// peerPort is the port of ev's peer address ("" if it has none).
func peerPort(ev *contract.ConnectionEvent) string {
	if _, port, err := net.SplitHostPort(ev.GetRemoteAddress()); err == nil {
		return port
	}
	return ""
}

// markKept ends the run's reporting: lines are dropped until the next run.
func (r *serverRun) markKept() {
	r.mu.Lock()
	r.report = nil
	r.mu.Unlock()
}

// drained waits up to limit until the program has logged the readiness
// probe and holds no connection on its port (see openConns), and reports
// whether it came to that. It gives up at once when the program exits or
// ctx ends. Where connections cannot be counted, the fence alone orders
// the log lines.
func (r *serverRun) drained(ctx context.Context, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if r.probeLogged.Load() {
			n, ok := openConns(r.port)
			if !ok || n == 0 {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-r.exited:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// share returns limit, or less when ctx ends sooner: a quarter of the time
// left, so that a fallback to a full stop or a fresh start still fits.
func share(ctx context.Context, limit time.Duration) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return min(limit, time.Until(d)/4)
	}
	return limit
}

// fence makes a kept program ready for the run that reports to report:
// it connects like the readiness probe (sends nothing, half-closes, reads
// the answer) and waits for that connection's log line. Every line before
// it is an earlier run's and is dropped; from it on, lines go to report.
func (r *serverRun) fence(ctx context.Context, report func(*contract.ConnectionEvent)) error {
	seen := make(chan struct{})
	r.mu.Lock()
	r.fencing, r.fencePort, r.fenceSeen, r.next, r.pending = true, "", seen, report, nil
	r.mu.Unlock()
	fail := func(err error) error {
		r.mu.Lock()
		r.fencing, r.next, r.pending = false, nil, nil
		r.mu.Unlock()
		return err
	}
	limit := share(ctx, fenceLimit)
	conn, err := net.DialTimeout("tcp", probeAddress(r.host, r.port), limit)
	if err != nil {
		return fail(fmt.Errorf("its port no longer accepts connections: %w", err))
	}
	_, port, _ := net.SplitHostPort(conn.LocalAddr().String())
	r.mu.Lock()
	r.fencePort = port
	for _, ev := range r.pending {
		r.fenceLineLocked(ev)
	}
	r.pending = nil
	r.mu.Unlock()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	_, _ = io.Copy(io.Discard, conn)
	_ = conn.Close()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-seen:
		return nil
	case <-r.exited:
		return fail(errors.New("it exited as it was reused"))
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-t.C:
		return fail(fmt.Errorf("it did not log the fence connection within %v", limit))
	}
}

// fenceLineLocked handles ev while fencing: the fence's own line ends
// fencing and hands reporting to the waiting run; any other line belongs to
// an earlier run and is dropped. The caller holds r.mu and knows fencePort.
func (r *serverRun) fenceLineLocked(ev *contract.ConnectionEvent) {
	if !r.fencing || peerPort(ev) != r.fencePort {
		return
	}
	r.fencing, r.fencePort = false, ""
	r.report, r.next = r.next, nil
	close(r.fenceSeen)
}

// line handles one line of program output (of stderr if stderr).
func (r *serverRun) line(b []byte, stderr bool) {
	r.printed.Store(true)
	text := string(bytes.TrimSuffix(b, []byte("\r")))
	r.out.add(text)
	if stderr {
		r.errOut.add(text)
	}
	ev := r.srv.event(b)
	if ev == nil {
		return
	}
	r.mu.Lock()
	switch {
	case r.probing, r.fencing && r.fencePort == "":
		r.pending = append(r.pending, ev)
		r.mu.Unlock()
		return
	case r.fencing:
		r.fenceLineLocked(ev)
		r.mu.Unlock()
		return
	}
	probe := r.isProbeLocked(ev)
	report := r.report
	r.mu.Unlock()
	if !probe && report != nil {
		report(ev)
	}
}

// stop kills the program's process group (politely first if polite) and
// waits until the program and its output readers are done.
func (r *serverRun) stop(ctx context.Context, polite bool) {
	// An exit the program made on its own a moment ago, not yet seen by
	// the goroutine that waits for it, is still its own (stored before
	// stopping, which that goroutine reads first).
	if ended(r.cmd.Process.Pid) {
		r.endedBy.Store(true)
	}
	if r.stopping.Swap(true) {
		<-r.exited
		r.lines.Wait()
		return // already stopped
	}
	close(r.quit)
	p := r.cmd.Process
	if polite {
		_ = signalGroup(p, syscall.SIGTERM)
		t := time.NewTimer(stopGrace)
		select {
		case <-r.exited:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	// Also after a polite exit: children that ignored SIGTERM or outlived
	// the program are still in the group.
	_ = signalGroup(p, syscall.SIGKILL)
	_ = p.Kill() // in case the program moved itself to another group
	<-r.exited
	r.mu.Lock()
	if r.probeConn != nil {
		_ = r.probeConn.Close()
	}
	r.mu.Unlock()
	r.probeWG.Wait()
	r.awaitOutput(outputGrace)
	closeAll(r.pipes)
	r.lines.Wait()
	r.bg.Wait()
}

// awaitOutput waits up to limit for the output readers to reach end of
// output; after that it closes the pipes, which ends them (a process that
// left the group may still hold the write ends).
func (r *serverRun) awaitOutput(limit time.Duration) {
	done := make(chan struct{})
	go func() {
		r.lines.Wait()
		close(done)
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		closeAll(r.pipes)
		<-done
	}
}

// event turns a matching log line into a ConnectionEvent, or returns nil.
func (s *Server) event(line []byte) *contract.ConnectionEvent {
	return s.parser.Event(line)
}

// listenHostPort splits a StartRequest address. An empty address or host
// means 127.0.0.1: the program must be reachable by the suite, and loopback
// keeps it private.
func listenHostPort(addr string) (host, port string, err error) {
	if addr == "" {
		return "127.0.0.1", "0", nil
	}
	host, port, err = net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "0"
	}
	return host, port, nil
}

// freePort asks the kernel for a free port on host and releases it.
func freePort(host string) (string, error) {
	// A port the kernel hands out for port 0 comes from the ephemeral range,
	// from which it also picks ports for other programs' listeners and
	// outgoing connections: between our check and the program's bind, one
	// of those may take it. A random free port below that range is only
	// ever taken by someone who names it.
	low, high := 20000, ephemeralLow()-1
	if high-low < 1000 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", err
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		return port, l.Close()
	}
	var lastErr error
	for range 50 {
		port := strconv.Itoa(low + rand.IntN(high-low+1))
		l, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			lastErr = err
			continue
		}
		return port, l.Close()
	}
	return "", fmt.Errorf("no free port found below the ephemeral range: %w", lastErr)
}

// ephemeralLow returns the first port of the kernel's ephemeral range
// (32768 when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 1024 {
				return n
			}
		}
	}
	return 32768
}

// probeAddress is where readiness is probed: the listen address, with a
// wildcard host replaced by loopback.
func probeAddress(host, port string) string {
	switch host {
	case "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// exitText describes how a program ended.
func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.String() // "exit status 3" or "signal: killed"
	}
	if err != nil {
		return err.Error()
	}
	return "exit status 0"
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}
