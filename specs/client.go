package specs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/core/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// ClientChannel says what the client under test's responses can carry,
// from the capabilities it declares in Describe. The zero value is a native
// plugin, which reports the raw reply bytes and its own error class, and is
// judged byte for byte.
type ClientChannel struct {
	// Text: the client is a program whose reply is the text it printed,
	// whose bytes received before a failure are known only if it printed
	// them, and whose error class is inferred from its exit status and
	// words (contract.CapabilityClientText).
	Text bool
	// NoTimeout: the client cannot be told its timeout
	// (contract.CapabilityNoTimeout).
	NoTimeout bool
}

// CurrentClientChannel asks the client under test what it can report,
// launching its plugin if needed. Describe is optional: a plugin without it
// is a native plugin.
func CurrentClientChannel() ClientChannel {
	GinkgoHelper()
	p := clientSlot.plugin()
	rpc, err := p.Client()
	Expect(err).NotTo(HaveOccurred())
	var ch ClientChannel
	for _, c := range clientSlot.capabilities(p, rpc.Describe) {
		switch c {
		case contract.CapabilityClientText:
			ch.Text = true
		case contract.CapabilityNoTimeout:
			ch.NoTimeout = true
		}
	}
	return ch
}

// PendingGreet is a Greet call into the client under test that runs while
// the spec plays the server with a probe.
type PendingGreet struct {
	// Name is the name the client was asked to send.
	Name string
	// Timeout is the timeout the client was given.
	Timeout time.Duration
	// Channel is what the client's response can carry.
	Channel ClientChannel

	done   chan struct{}
	resp   *contract.GreetResponse
	err    error
	plugin *host.Plugin
}

// StartGreet asks the client under test to greet addr with name, bounded by
// timeout (passed to the client as its own timeout too), and returns at
// once.
func StartGreet(addr, name string, timeout time.Duration) *PendingGreet {
	GinkgoHelper()
	ch := CurrentClientChannel()
	p := clientSlot.plugin()
	rpc, err := p.Client()
	Expect(err).NotTo(HaveOccurred())
	g := &PendingGreet{Name: name, Timeout: timeout, Channel: ch, done: make(chan struct{}), plugin: p}
	// The RPC itself gets extra room so that a client that ignores its
	// timeout is caught by the spec's own wait, not by the RPC deadline.
	ctx, cancel := context.WithTimeout(context.Background(), timeout+Settings.WaitTimeout)
	// Registered first, so run last: after the call has ended.
	watchPlugin(clientSlot, p)
	go func() {
		defer GinkgoRecover()
		defer close(g.done)
		defer cancel()
		resp, err := rpc.Greet(ctx, &contract.GreetRequest{Address: addr, Name: name, TimeoutMs: uint32(timeout.Milliseconds())})
		if err != nil && errors.Is(ctx.Err(), context.Canceled) {
			// The spec ended (it failed before the client returned) and
			// cancelled the call: the plugin did not go away, so there
			// is no exit to wait for (watchPlugin still reports one).
			g.resp, g.err = resp, err
			return
		}
		g.resp, g.err = resp, p.Err("Greet", err)
	}()
	deferCleanup(func() { cancel(); <-g.done })
	return g
}

// Wait waits up to within for the client to return and gives its response.
func (g *PendingGreet) Wait(within time.Duration) *contract.GreetResponse {
	GinkgoHelper()
	expectClosed(g.done, within, "the client under test must return within %v (it was given a timeout of %v)", within, g.Timeout)
	g.failIfDied()
	Expect(g.err).NotTo(HaveOccurred(), "the client plugin failed")
	return g.resp
}

// failIfDied fails the spec naming the client plugin's death first, when
// its Greet call failed because the plugin process exited. A Greet call
// fails the moment the process dies (its connection breaks), so no wait
// outlasts the death.
func (g *PendingGreet) failIfDied() {
	GinkgoHelper()
	if g.returned() && g.err != nil {
		failIfPluginDied(clientSlot, g.plugin, g.err)
	}
}

// expectClosed fails the spec unless done is closed within within
// (WaitTimeout if zero or less), with the message shaped as Gomega's for a
// wait that timed out: "Timed out after 1.500s." and then what should have
// happened. It ends the moment done is closed.
func expectClosed(done <-chan struct{}, within time.Duration, format string, args ...any) {
	GinkgoHelper()
	if within <= 0 {
		within = Settings.WaitTimeout
	}
	if !awaitClosed(done, within) {
		Fail(fmt.Sprintf("Timed out after %.3fs.\n", within.Seconds()) + fmt.Sprintf(format, args...))
	}
}

// awaitClosed waits up to within (WaitTimeout if zero or less) for done to
// be closed and reports whether it was. It ends the moment done is closed.
func awaitClosed(done <-chan struct{}, within time.Duration) bool {
	if within <= 0 {
		within = Settings.WaitTimeout
	}
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
}

// returned reports whether the client has returned.
func (g *PendingGreet) returned() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// describe sums up how the client returned, for failure messages.
func (g *PendingGreet) describe() string {
	if g.err != nil {
		return "the client plugin failed: " + g.err.Error()
	}
	return fmt.Sprintf("%s, reply %q, error %q", g.resp.GetErrorClass(), g.resp.GetReply(), g.resp.GetError())
}

// ProbeServer is a raw listener playing the server for a client spec.
type ProbeServer struct {
	*wire.Listener
}

// NewProbeServer listens on a loopback address port 0 until the spec ends.
func NewProbeServer() *ProbeServer {
	GinkgoHelper()
	ln, err := listenLoopback()
	Expect(err).NotTo(HaveOccurred())
	deferCleanup(func() { _ = ln.Close() })
	return &ProbeServer{Listener: ln}
}

// listenLoopback listens on port 0 of a loopback address picked at random
// in 127.0.0.0/8 (Linux routes all of it to the loopback interface), or of
// 127.0.0.1 where only that one is configured. A probe must accept only the
// client under test: a program elsewhere on the machine that polls or
// connects to 127.0.0.1 ports it has just freed (another test run waiting
// for its own server) could otherwise reach the probe and be taken for the
// client.
func listenLoopback() (*wire.Listener, error) {
	ip := fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(254), rand.IntN(256), 1+rand.IntN(254))
	if ln, err := wire.Listen(ip + ":0"); err == nil {
		return ln, nil
	}
	return wire.Listen("127.0.0.1:0")
}

// AcceptOrReturn waits until the client of g connects, and returns the
// connection, or until it returns without connecting, and returns nil.
// Both should happen: the wait is bounded by the client's own timeout plus
// WaitTimeout, past which the spec fails. It ends the moment either
// happens; once the client has returned, a gap more (Settings.Gap, a
// designed wait stated by DesignedWaits) is given to a connection it made
// just before returning.
func (p *ProbeServer) AcceptOrReturn(g *PendingGreet) *wire.Conn {
	GinkgoHelper()
	limit := g.Timeout + Settings.WaitTimeout
	conn, err := p.Listener.AcceptUnless(g.done, Settings.Gap, limit)
	if err == nil {
		attachTranscript("probe server <- client "+conn.RemoteAddr(), conn)
		return conn
	}
	Expect(errors.Is(err, os.ErrDeadlineExceeded)).To(BeTrue(), "accepting the client's connection: %v", err)
	if g.returned() {
		return nil
	}
	Fail(fmt.Sprintf("the client under test must connect to the server, but it neither connected nor returned within %v (the timeout it was given, %v, plus %v)",
		limit, g.Timeout, Settings.WaitTimeout))
	return nil
}

// Accept waits for the client of g to connect; a client that returns
// without connecting fails the spec, with what it returned.
func (p *ProbeServer) Accept(g *PendingGreet) *wire.Conn {
	GinkgoHelper()
	conn := p.AcceptOrReturn(g)
	if conn == nil {
		g.failIfDied()
		// A program argument ({name} in a wrapped client's template)
		// cannot hold a NUL byte: the adapter then reports that it could
		// not run the program with that name.
		if g.Channel.Text && strings.IndexByte(g.Name, 0) >= 0 && g.err == nil && strings.Contains(g.resp.GetError(), "NUL") {
			Skip(NotObservablePrefix + "the name holds a NUL byte, which cannot reach the client program: " + g.resp.GetError())
		}
		Fail(fmt.Sprintf("the client under test must connect to the server, but it returned without connecting: %s", g.describe()))
	}
	return conn
}
