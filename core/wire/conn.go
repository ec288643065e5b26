package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// readBufSize is the size of one read call. It only caps how much one read
// may return; ReadUntilEnd keeps reading until the connection ends.
const readBufSize = 32 * 1024

// Conn is one TCP connection driven by a spec. Its methods may be called
// from different goroutines (for example one reading while another sends),
// and each is bounded by a timeout and recorded in the Transcript.
type Conn struct {
	tcp *net.TCPConn
	t   *Transcript

	closeOnce sync.Once
	closed    chan struct{} // closed by Close or Abort; ends SendPieces gaps
	wroteEOF  atomic.Bool   // set by CloseWrite: later write errors are this side's
}

// Result is what a read observed.
type Result struct {
	// Data holds every byte received, including those that arrived before
	// a reset or a timeout.
	Data []byte
	// End says why reading stopped; EndNone when it stopped at max bytes.
	End End
	// Err is the error that stopped reading (io.EOF for EndEOF), nil for
	// EndNone.
	Err error
	// Elapsed is the time the read took.
	Elapsed time.Duration
}

// String summarises the result for failure messages.
func (r Result) String() string {
	return fmt.Sprintf("%d bytes %q, end %s (%v) after %v", len(r.Data), r.Data, r.End, r.Err, r.Elapsed)
}

// Did says, cause first, what the peer did as this read saw it: what it
// sent and how the connection ended, for example `the server sent 22 bytes
// "Welcome to Asif server", then closed the connection (FIN), within 1.1ms`.
// peer names the other side ("the server").
func (r Result) Did(peer string) string {
	sent := "sent nothing"
	if len(r.Data) > 0 {
		sent = fmt.Sprintf("sent %d bytes %q", len(r.Data), r.Data)
	}
	var end string
	switch r.End {
	case EndEOF:
		end = ", then closed the connection (FIN)"
	case EndReset:
		end = ", then reset the connection (RST)"
	case EndTimeout:
		end = " and kept the connection open"
	case EndNone:
		end = " (the connection is still open)"
	default:
		end = fmt.Sprintf(", then the read failed: %v", r.Err)
	}
	when := "within"
	if r.End == EndTimeout {
		when = "for"
	}
	return fmt.Sprintf("%s %s%s, %s %v", peer, sent, end, when, r.Elapsed.Round(time.Microsecond))
}

// Dial connects to addr ("host:port", IPv4 or IPv6) over TCP, giving up after
// timeout. The transcript starts with the dial, so the connect record shows
// how long it took.
func Dial(addr string, timeout time.Duration) (*Conn, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wire: dial %s: %w", addr, err)
	}
	c := newConn(nc.(*net.TCPConn), start)
	c.t.add("connect", nil, c.LocalAddr()+" -> "+c.RemoteAddr())
	return c, nil
}

func newConn(tcp *net.TCPConn, start time.Time) *Conn {
	return &Conn{tcp: tcp, t: newTranscript(start), closed: make(chan struct{})}
}

// Transcript returns the connection's record of events.
func (c *Conn) Transcript() *Transcript { return c.t }

// LocalAddr returns this side's address as "ip:port".
func (c *Conn) LocalAddr() string { return c.tcp.LocalAddr().String() }

// RemoteAddr returns the peer's address as "ip:port".
func (c *Conn) RemoteAddr() string { return c.tcp.RemoteAddr().String() }

// Send writes all of b, failing if that takes longer than timeout. A peer
// that reset the connection shows as a *PeerError saying what the peer did
// (and what it had sent); Classify maps it to EndReset.
func (c *Conn) Send(b []byte, timeout time.Duration) error {
	return c.write("send", b, timeout)
}

func (c *Conn) write(op string, b []byte, timeout time.Duration) error {
	if err := c.tcp.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		c.t.add("send", nil, "failed: "+err.Error())
		return fmt.Errorf("wire: send: %w", err)
	}
	began := c.t.Now()
	n, err := c.tcp.Write(b)
	if err != nil {
		c.t.addSince("send", b[:n], fmt.Sprintf("failed after %d of %d bytes (%s): %v", n, len(b), Classify(err), err), began)
		if c.peerCaused(err) {
			return c.peerError(op, n, len(b), err)
		}
		return fmt.Errorf("wire: send: %w", err)
	}
	c.t.addSince("send", b, "", began)
	return nil
}

// SendPieces writes each piece with its own write call, with TCP_NODELAY
// set and a pause of gap between pieces, so that each piece leaves as its own
// segment and a reader sees the bytes arrive in parts. timeout bounds each
// write; the pauses end early, with an error, if the Conn is closed.
func (c *Conn) SendPieces(pieces [][]byte, gap, timeout time.Duration) error {
	return c.sendPieces(pieces, gap, timeout, false)
}

// SendPiecesWhileOpen is SendPieces for a peer that must keep the
// connection open until every piece has arrived, as a server must until a
// name has ended: before each piece after the first it looks, without
// waiting or consuming, whether the peer has ended its stream or reset the
// connection, and if so sends nothing more and returns a *PeerError saying
// so (with any reply the peer sent before).
func (c *Conn) SendPiecesWhileOpen(pieces [][]byte, gap, timeout time.Duration) error {
	return c.sendPieces(pieces, gap, timeout, true)
}

func (c *Conn) sendPieces(pieces [][]byte, gap, timeout time.Duration, whileOpen bool) error {
	total, sent := 0, 0
	for _, p := range pieces {
		total += len(p)
	}
	if err := c.tcp.SetNoDelay(true); err != nil {
		return fmt.Errorf("wire: send pieces: %w", err)
	}
	for i, p := range pieces {
		if i > 0 && gap > 0 {
			timer := time.NewTimer(gap)
			select {
			case <-timer.C:
			case <-c.closed:
				timer.Stop()
				return fmt.Errorf("wire: send pieces: %w", net.ErrClosed)
			}
		}
		if i > 0 && whileOpen && c.PeerEnded() {
			return c.peerError("send pieces", sent, total, nil)
		}
		if err := c.write("send pieces", p, timeout); err != nil {
			var pe *PeerError
			if errors.As(err, &pe) {
				pe.Sent, pe.Total = sent+pe.Sent, total
			}
			return err
		}
		sent += len(p)
	}
	return nil
}

// CloseWrite half-closes the connection: it sends FIN, marking end of
// stream, and keeps the receiving side open. A peer that had reset the
// connection shows as a *PeerError saying what the peer did.
func (c *Conn) CloseWrite() error {
	err := c.tcp.CloseWrite()
	c.t.add("close-write", nil, errDetail(err))
	if err != nil {
		if c.peerCaused(err) {
			return c.peerError("close-write", 0, 0, err)
		}
		return fmt.Errorf("wire: close write: %w", err)
	}
	c.wroteEOF.Store(true)
	return nil
}

// Abort resets the connection: it sets SO_LINGER to 0 and closes, so the
// kernel sends RST instead of FIN. It fails if the Conn is already closed.
func (c *Conn) Abort() error {
	if err := c.tcp.SetLinger(0); err != nil {
		c.t.add("abort", nil, "failed: "+err.Error())
		return fmt.Errorf("wire: abort: %w", err)
	}
	done, err := c.close("abort")
	if !done {
		return fmt.Errorf("wire: abort: %w", net.ErrClosed)
	}
	return err
}

// Close closes the connection in the ordinary way (FIN, or RST if unread
// input remains). Later calls do nothing and return nil.
func (c *Conn) Close() error {
	_, err := c.close("close")
	return err
}

// close closes the socket once; done reports whether this call did it.
func (c *Conn) close(kind string) (done bool, err error) {
	c.closeOnce.Do(func() {
		done = true
		close(c.closed)
		err = c.tcp.Close()
		c.t.add(kind, nil, errDetail(err))
		if err != nil {
			err = fmt.Errorf("wire: %s: %w", kind, err)
		}
	})
	return done, err
}

// ReadUntilEnd reads until end of stream, a reset, another error, timeout,
// or max bytes received (max <= 0: no limit). It never consumes bytes past
// max, so a later read sees them. A timeout <= 0 returns at once.
func (c *Conn) ReadUntilEnd(max int, timeout time.Duration) Result {
	return c.read(max, timeout)
}

// ReadFor reads whatever arrives within d. If the connection is still open
// when d passes, End is EndTimeout: the way to check that nothing (or only
// some bytes) arrived in a window. It returns early on end of stream or reset.
func (c *Conn) ReadFor(d time.Duration) Result {
	return c.read(0, d)
}

// ReadUntilQuiet reads like ReadUntilEnd, and also ends when quiet passes
// without a new byte once a byte has arrived: the end of a name that a
// client sends without closing (T of silence ends it), T after its last
// byte. Before the first byte it waits up to timeout, which also bounds
// the whole read.
func (c *Conn) ReadUntilQuiet(max int, quiet, timeout time.Duration) Result {
	return c.readQuiet(max, quiet, timeout)
}

func (c *Conn) read(max int, timeout time.Duration) Result {
	return c.readQuiet(max, 0, timeout)
}

// readQuiet reads until end of stream, an error, max bytes, timeout, or,
// with quiet > 0, quiet without a new byte after the first.
func (c *Conn) readQuiet(max int, quiet, timeout time.Duration) Result {
	start := time.Now()
	res := Result{}
	if err := c.tcp.SetReadDeadline(start.Add(timeout)); err != nil {
		res.End, res.Err = Classify(err), err
		res.Elapsed = time.Since(start)
		c.t.add("end", nil, res.End.String()+": "+err.Error())
		return res
	}
	buf := make([]byte, readBufSize)
	for max <= 0 || len(res.Data) < max {
		b := buf
		if max > 0 && max-len(res.Data) < len(b) {
			b = b[:max-len(res.Data)]
		}
		n, err := c.tcp.Read(b)
		if n > 0 {
			res.Data = append(res.Data, b[:n]...)
			c.t.add("recv", b[:n], "")
		}
		if err != nil {
			res.End, res.Err = Classify(err), err
			break
		}
		if quiet > 0 && n > 0 {
			if err := c.tcp.SetReadDeadline(minTime(time.Now().Add(quiet), start.Add(timeout))); err != nil {
				res.End, res.Err = Classify(err), err
				break
			}
		}
	}
	res.Elapsed = time.Since(start)
	detail := res.End.String()
	if res.End == EndNone {
		detail = fmt.Sprintf("open: stopped at max %d bytes", max)
	} else if res.End != EndEOF {
		detail += ": " + res.Err.Error()
	}
	c.t.add("end", nil, fmt.Sprintf("%s after %.3fms", detail, float64(res.Elapsed.Microseconds())/1000))
	return res
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func errDetail(err error) string {
	if err == nil {
		return ""
	}
	return "failed: " + err.Error()
}

// Listener accepts connections for specs that play the server side.
type Listener struct {
	tcp *net.TCPListener
}

// Listen listens on addr; "127.0.0.1:0" lets the kernel pick a free port,
// which parallel specs need.
func Listen(addr string) (*Listener, error) {
	nl, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wire: listen %s: %w", addr, err)
	}
	return &Listener{tcp: nl.(*net.TCPListener)}, nil
}

// Addr returns the bound address as "ip:port".
func (l *Listener) Addr() string { return l.tcp.Addr().String() }

// Accept waits at most timeout for a connection. The accepted Conn has its
// own transcript, starting at the accept.
func (l *Listener) Accept(timeout time.Duration) (*Conn, error) {
	if err := l.tcp.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, fmt.Errorf("wire: accept: %w", err)
	}
	tc, err := l.tcp.AcceptTCP()
	if err != nil {
		return nil, fmt.Errorf("wire: accept: %w", err)
	}
	c := newConn(tc, time.Now())
	c.t.add("accept", nil, c.RemoteAddr()+" -> "+c.LocalAddr())
	return c, nil
}

// AcceptUnless waits at most timeout for a connection, or until done is
// closed; from then on it waits at most grace more, so that a connection
// made just before done was closed is still accepted. It returns an error
// wrapping os.ErrDeadlineExceeded when no connection came. Nothing polls:
// the wait ends the moment a connection arrives or grace runs out.
func (l *Listener) AcceptUnless(done <-chan struct{}, grace, timeout time.Duration) (*Conn, error) {
	if err := l.tcp.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, fmt.Errorf("wire: accept: %w", err)
	}
	stop, woke := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(woke)
		select {
		case <-done:
			_ = l.tcp.SetDeadline(time.Now().Add(grace))
		case <-stop:
		}
	}()
	tc, err := l.tcp.AcceptTCP()
	close(stop)
	<-woke // no deadline is set after this call returns
	if err != nil {
		return nil, fmt.Errorf("wire: accept: %w", err)
	}
	c := newConn(tc, time.Now())
	c.t.add("accept", nil, c.RemoteAddr()+" -> "+c.LocalAddr())
	return c, nil
}

// Close stops listening. Connections already accepted stay open.
func (l *Listener) Close() error {
	if err := l.tcp.Close(); err != nil {
		return fmt.Errorf("wire: close listener: %w", err)
	}
	return nil
}
