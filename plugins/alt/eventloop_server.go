// Package alt holds alternative correct implementations of the greeting
// protocol, built differently from the reference ones, so that the suite is
// shown to judge behaviour on the wire rather than one implementation's
// shape.
package alt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// DefaultIdleTimeout is T when the host passes none.
const DefaultIdleTimeout = 10 * time.Second

// readChunk is the size of one read. It is deliberately not 1024: a read
// may hold bytes past the limit, which the loop must then drop from the
// name.
const readChunk = 700

// greetingSplit is where the greeting is cut into its two writes: a reply
// may arrive in pieces (CLI-REPLY-1), and this server proves the specs
// accept that.
const greetingSplit = len("welcome to ")

// EventLoopServer is a greeting server in which one goroutine, the loop,
// owns every connection's state and all timing. Per-connection reader
// goroutines only forward what their reads return; per-connection writer
// goroutines only write the greeting (in two writes) and half-close, so the
// loop itself never blocks on the network.
type EventLoopServer struct {
	// Log receives the server's log lines; nil means standard error.
	Log *log.Logger

	mu  sync.Mutex
	cur *loopRun
}

// Describe names the implementation.
func (s *EventLoopServer) Describe() *contract.DescribeResponse {
	return &contract.DescribeResponse{Name: "greetspec alternative event-loop server"}
}

// Start listens on req's address and serves until Stop.
func (s *EventLoopServer) Start(_ context.Context, req *contract.StartRequest, report func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	idle := time.Duration(req.GetIdleTimeoutMs()) * time.Millisecond
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return nil, errors.New("alt: server already started")
	}
	ln, err := net.Listen("tcp", req.GetListenAddress())
	if err != nil {
		return nil, err
	}
	logger := s.Log
	if logger == nil {
		logger = log.New(os.Stderr, "", 0)
	}
	r := &loopRun{
		ln: ln, idle: idle, report: report, log: logger,
		accepted: make(chan *net.TCPConn),
		reads:    make(chan readResult),
		writes:   make(chan writeResult),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		conns:    map[uint64]*loopConn{},
	}
	s.cur = r
	r.wg.Add(2)
	go r.acceptLoop()
	go r.loop()
	return &contract.StartResponse{Address: ln.Addr().String()}, nil
}

// Stop closes the listener and every open connection and waits until no
// goroutine of the run is left.
func (s *EventLoopServer) Stop(context.Context) error {
	s.mu.Lock()
	r := s.cur
	s.cur = nil
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	_ = r.ln.Close()
	close(r.stop)
	r.wg.Wait()
	return nil
}

// loopRun is one run of the server, from Start to Stop.
type loopRun struct {
	ln     net.Listener
	idle   time.Duration
	report func(*contract.ConnectionEvent)
	log    *log.Logger

	accepted chan *net.TCPConn
	reads    chan readResult
	writes   chan writeResult
	stop     chan struct{} // closed by Stop
	done     chan struct{} // closed when the loop has returned
	wg       sync.WaitGroup

	// Owned by the loop goroutine alone.
	conns  map[uint64]*loopConn
	nextID uint64
}

// phase is where a connection stands in the exchange.
type phase int

const (
	// reading: the name has not ended yet.
	reading phase = iota
	// greeting: a writer is sending the greeting.
	greeting
	// draining: greeted and half-closed; input is discarded until end of
	// stream or the deadline.
	draining
)

// loopConn is the loop's state of one connection.
type loopConn struct {
	id       uint64
	tcp      *net.TCPConn
	ev       *contract.ConnectionEvent
	name     []byte
	phase    phase
	deadline time.Time
	eof      bool // the reader has seen end of stream and stopped
}

// readResult is what one read returned: bytes, or the error that ended the
// reader.
type readResult struct {
	id   uint64
	data []byte
	err  error
}

// writeResult says how the greeting writes went.
type writeResult struct {
	id  uint64
	n   int
	err error
}

// send hands a message to the loop, or drops it once the loop is gone.
func send[T any](r *loopRun, ch chan<- T, v T) bool {
	select {
	case ch <- v:
		return true
	case <-r.done:
		return false
	}
}

func (r *loopRun) acceptLoop() {
	defer r.wg.Done()
	for {
		conn, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure such as too many open files must not end
			// the server; back off instead of spinning.
			select {
			case <-time.After(10 * time.Millisecond):
				continue
			case <-r.done:
				return
			}
		}
		if !send(r, r.accepted, conn.(*net.TCPConn)) {
			_ = conn.Close()
			return
		}
	}
}

// reader forwards every read of one connection to the loop. It never
// decides anything; it ends at the first error, which the loop causes by
// closing the connection when it is done with it.
func (r *loopRun) reader(id uint64, conn *net.TCPConn) {
	defer r.wg.Done()
	for {
		buf := make([]byte, readChunk)
		n, err := conn.Read(buf)
		if n > 0 && !send(r, r.reads, readResult{id: id, data: buf[:n]}) {
			return
		}
		if err != nil {
			send(r, r.reads, readResult{id: id, err: err})
			return
		}
	}
}

// writer sends the greeting in two writes, then half-closes.
func (r *loopRun) writer(id uint64, conn *net.TCPConn) {
	defer r.wg.Done()
	g := []byte(contract.Greeting)
	_ = conn.SetWriteDeadline(time.Now().Add(r.idle))
	n, err := conn.Write(g[:greetingSplit])
	if err == nil {
		var m int
		m, err = conn.Write(g[greetingSplit:])
		n += m
	}
	if err == nil {
		err = conn.CloseWrite()
	}
	send(r, r.writes, writeResult{id: id, n: n, err: err})
}

// loop owns all connection state until Stop.
func (r *loopRun) loop() {
	defer r.wg.Done()
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.armTimer(timer)
		select {
		case conn := <-r.accepted:
			r.open(conn)
		case rr := <-r.reads:
			if c := r.conns[rr.id]; c != nil {
				r.onRead(c, rr)
			}
		case wr := <-r.writes:
			if c := r.conns[wr.id]; c != nil {
				r.onWritten(c, wr)
			}
		case now := <-timer.C:
			for _, c := range r.conns {
				if !c.deadline.IsZero() && !now.Before(c.deadline) {
					r.onDeadline(c)
				}
			}
		case <-r.stop:
			for _, c := range r.conns {
				if c.phase == reading {
					c.ev.NameRaw = c.name
					c.ev.NameEnd = contract.NameEnd_NAME_END_ERROR
					c.ev.Error = "server stopped"
				}
				r.finish(c)
			}
			return
		}
	}
}

// armTimer sets timer to the earliest deadline of any connection.
func (r *loopRun) armTimer(timer *time.Timer) {
	var next time.Time
	for _, c := range r.conns {
		if !c.deadline.IsZero() && (next.IsZero() || c.deadline.Before(next)) {
			next = c.deadline
		}
	}
	wait := time.Hour
	if !next.IsZero() {
		wait = max(time.Until(next), 0)
	}
	timer.Reset(wait)
}

func (r *loopRun) open(conn *net.TCPConn) {
	r.nextID++
	c := &loopConn{
		id: r.nextID, tcp: conn,
		ev:       &contract.ConnectionEvent{RemoteAddress: conn.RemoteAddr().String()},
		deadline: time.Now().Add(r.idle),
	}
	r.conns[c.id] = c
	r.wg.Add(1)
	go r.reader(c.id, conn)
}

func (r *loopRun) onRead(c *loopConn, rr readResult) {
	switch {
	case c.phase != reading:
		// Draining or greeting: discard, and close once the client has
		// ended its stream or reset.
		if rr.err != nil {
			c.eof = true
			if c.phase == draining {
				r.finish(c)
			}
		}
	case rr.err == nil:
		take := min(len(rr.data), contract.MaxNameBytes-len(c.name))
		c.name = append(c.name, rr.data[:take]...)
		c.deadline = time.Now().Add(r.idle) // T counts from the last byte
		if len(c.name) == contract.MaxNameBytes {
			r.nameEnded(c, contract.NameEnd_NAME_END_LIMIT)
		}
	case errors.Is(rr.err, io.EOF):
		c.eof = true
		r.nameEnded(c, contract.NameEnd_NAME_END_EOF)
	default:
		c.eof = true
		c.ev.NameRaw, c.ev.NameEnd, c.ev.Error = c.name, contract.NameEnd_NAME_END_ERROR, rr.err.Error()
		r.finish(c) // a reset before the name ended: no name, no greeting
	}
}

func (r *loopRun) onDeadline(c *loopConn) {
	switch c.phase {
	case reading:
		if len(c.name) == 0 {
			// SRV-IDLE-1: no byte at all within T; nobody to greet.
			c.ev.NameEnd, c.ev.Error = contract.NameEnd_NAME_END_IDLE, "idle: no byte within T"
			r.finish(c)
			return
		}
		r.nameEnded(c, contract.NameEnd_NAME_END_IDLE)
	case draining:
		r.finish(c) // the drain is bounded by T
	}
}

// nameEnded logs the name and starts the greeting.
func (r *loopRun) nameEnded(c *loopConn, end contract.NameEnd) {
	c.ev.NameRaw, c.ev.NameEnd = c.name, end
	c.ev.Name = contract.DecodeUTF8(c.name)
	c.ev.LogLine = fmt.Sprintf("connected with: %s %s", c.ev.RemoteAddress, contract.EscapeLogName(c.ev.Name))
	r.log.Println(c.ev.LogLine)
	c.phase, c.deadline = greeting, time.Time{}
	r.wg.Add(1)
	go r.writer(c.id, c.tcp)
}

func (r *loopRun) onWritten(c *loopConn, wr writeResult) {
	c.ev.Reply = []byte(contract.Greeting)[:wr.n]
	if wr.err != nil {
		c.ev.Error = wr.err.Error()
		r.finish(c)
		return
	}
	if c.eof {
		r.finish(c)
		return
	}
	// Half-closed: drain for at most T so the close is a FIN, not a reset
	// (SRV-CLOSE-1).
	c.phase, c.deadline = draining, time.Now().Add(r.idle)
}

// finish closes the connection, forgets it and reports it.
func (r *loopRun) finish(c *loopConn) {
	_ = c.tcp.Close()
	delete(r.conns, c.id)
	r.report(c.ev)
}
