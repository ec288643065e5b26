package execadapter

import (
	"context"
	"errors"
	"fmt"
	"github.com/greetspec/greetspec/core/logline"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"strconv"
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
	pollInterval = 25 * time.Millisecond  // between readiness probes
	probeTimeout = 250 * time.Millisecond // one probe's connect
	probeDrain   = 2 * time.Second        // bound on reading the probe's reply
	stopGrace    = 2 * time.Second        // SIGTERM to SIGKILL
	outputGrace  = 2 * time.Second        // wait for output after the group is dead
)

// Server runs a server program per Start and turns its connection log lines
// into ConnectionEvents. It implements contract.Server and
// contract.Describer.
type Server struct {
	cfg      ServerConfig
	tmpl     *template
	parser   *logline.Parser
	stateMu  sync.Mutex
	running  *serverRun // nil when stopped
	stopping sync.Mutex // serialises Start and Stop
}

var (
	_ contract.Server    = (*Server)(nil)
	_ contract.Describer = (*Server)(nil)
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
	return &Server{cfg: cfg, tmpl: tmpl, parser: parser}, nil
}

// Describe names the adapter after its command template.
func (s *Server) Describe() *contract.DescribeResponse {
	return &contract.DescribeResponse{
		Name:         "exec: " + s.cfg.Command,
		Capabilities: []string{contract.CapabilityEventsFromLog},
	}
}

// Start starts a fresh program listening on req's address and returns once
// its port accepts connections.
//
// With port 0 the adapter picks a free port itself (listen on port 0, note
// the port, close) because the program is told a port, not asked for one.
// Another process could take that port between the close and the program's
// bind; the program then fails to start, or the readiness probe reaches the
// other process. On loopback with kernel-chosen ports this is rare.
//
// The readiness probe is a real connection: it connects, sends nothing,
// half-closes and reads whatever the program answers, so a conforming
// program greets it as an empty name. The first log line whose peer port is
// the probe's is therefore dropped, not reported.
func (s *Server) Start(ctx context.Context, req *contract.StartRequest, report func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	s.stopping.Lock()
	defer s.stopping.Unlock()
	s.stateMu.Lock()
	busy := s.running != nil
	s.stateMu.Unlock()
	if busy {
		return nil, errors.New("exec server: already started")
	}

	host, port, err := listenHostPort(req.GetListenAddress())
	if err != nil {
		return nil, fmt.Errorf("exec server: %w", err)
	}
	if port == "0" {
		if port, err = freePort(host); err != nil {
			return nil, fmt.Errorf("exec server: finding a free port on %s: %w", host, err)
		}
	}
	addr := net.JoinHostPort(host, port)
	argv := s.tmpl.fill(map[string]string{
		"host": host, "port": port, "addr": addr,
		"idle_timeout_ms": strconv.FormatUint(uint64(req.GetIdleTimeoutMs()), 10),
	})

	r := &serverRun{srv: s, report: report, probing: true, exited: make(chan struct{})}
	if err := r.start(argv, s.cfg.Dir); err != nil {
		return nil, fmt.Errorf("exec server: starting %q: %w", argv, err)
	}
	if err := r.awaitReady(ctx, probeAddress(host, port), s.cfg.ReadyTimeout); err != nil {
		r.stop(context.Background(), false)
		return nil, fmt.Errorf("exec server %q: %w%s", argv, err, r.out.String())
	}
	s.stateMu.Lock()
	s.running = r
	s.stateMu.Unlock()
	return &contract.StartResponse{Address: addr}, nil
}

// Stop ends the program's whole process group: SIGTERM, up to two seconds
// of grace, then SIGKILL. It returns once the program is gone and its
// output has been read, so no event is reported after it.
func (s *Server) Stop(ctx context.Context) error {
	s.stopping.Lock()
	defer s.stopping.Unlock()
	s.stateMu.Lock()
	r := s.running
	s.running = nil
	s.stateMu.Unlock()
	if r != nil {
		r.stop(ctx, true)
	}
	return nil
}

// serverRun is one program started by one Start.
type serverRun struct {
	srv    *Server
	report func(*contract.ConnectionEvent)
	cmd    *exec.Cmd
	out    tail
	pipes  []*os.File // read ends of stdout and stderr
	lines  sync.WaitGroup

	exited   chan struct{} // closed once the program has been waited for
	exitErr  error         // how it ended; read after exited is closed
	stopping atomic.Bool   // the adapter is ending it, so its exit is expected

	probeWG sync.WaitGroup

	mu        sync.Mutex
	probing   bool                        // readiness not established yet
	pending   []*contract.ConnectionEvent // events seen while probing
	probePort string                      // local port of the probe that succeeded
	probeConn net.Conn                    // while its reply is being drained
}

// start starts the program with its output piped to line readers.
func (r *serverRun) start(argv []string, dir string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	// Python block-buffers a piped stdout, which would hold log lines back
	// until the program exits.
	cmd.Env = programEnv()
	cmd.SysProcAttr = sysProcAttr()
	var writers []*os.File
	for range 2 {
		pr, pw, err := os.Pipe()
		if err != nil {
			closeAll(r.pipes)
			closeAll(writers)
			return err
		}
		r.pipes = append(r.pipes, pr)
		writers = append(writers, pw)
	}
	cmd.Stdout, cmd.Stderr = writers[0], writers[1]
	err := cmd.Start()
	closeAll(writers) // the program holds its own copies
	if err != nil {
		closeAll(r.pipes)
		return err
	}
	r.cmd = cmd
	for _, p := range r.pipes {
		r.lines.Add(1)
		go func() {
			defer r.lines.Done()
			readLines(p, r.line)
		}()
	}
	go func() {
		r.exitErr = cmd.Wait()
		close(r.exited)
		if !r.stopping.Load() {
			log.Printf("exec server: program %q ended on its own: %v", argv, exitText(r.exitErr))
		}
	}()
	return nil
}

// awaitReady polls a TCP connect to addr until it succeeds, the program
// exits, limit passes or ctx ends.
func (r *serverRun) awaitReady(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-r.exited:
			r.awaitOutput(outputGrace)
			return fmt.Errorf("program exited before its port %s accepted a connection: %s", addr, exitText(r.exitErr))
		case <-ctx.Done():
			return fmt.Errorf("waiting for port %s: %w", addr, ctx.Err())
		case <-timer.C:
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("program did not accept connections on %s within %v (is it listening on the {host} and {port} it was given?)", addr, limit)
		}
		conn, err := net.DialTimeout("tcp", addr, min(left, probeTimeout))
		if err == nil {
			r.probed(conn)
			return nil
		}
		timer.Reset(min(left, pollInterval))
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
	r.mu.Unlock()
	for _, ev := range deliver {
		r.report(ev)
	}

	r.probeWG.Add(1)
	go func() {
		defer r.probeWG.Done()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_ = conn.SetReadDeadline(time.Now().Add(probeDrain))
		_, _ = io.Copy(io.Discard, conn)
		_ = conn.Close()
	}()
}

// isProbeLocked reports (once) whether ev is the probe's connection. The
// caller holds r.mu.
func (r *serverRun) isProbeLocked(ev *contract.ConnectionEvent) bool {
	if r.probePort == "" {
		return false
	}
	if _, port, err := net.SplitHostPort(ev.RemoteAddress); err == nil && port == r.probePort {
		r.probePort = "" // one probe, one log line: a later client may reuse the port
		return true
	}
	return false
}

// line handles one line of program output.
func (r *serverRun) line(b []byte) {
	r.out.add(string(b))
	ev := r.srv.event(b)
	if ev == nil {
		return
	}
	r.mu.Lock()
	if r.probing {
		r.pending = append(r.pending, ev)
		r.mu.Unlock()
		return
	}
	probe := r.isProbeLocked(ev)
	r.mu.Unlock()
	if !probe {
		r.report(ev)
	}
}

// stop kills the program's process group (politely first if polite) and
// waits until the program and its output readers are done.
func (r *serverRun) stop(ctx context.Context, polite bool) {
	r.stopping.Store(true)
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
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, l.Close()
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
