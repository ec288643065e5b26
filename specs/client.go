package specs

import (
	"context"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// PendingGreet is a Greet call into the client under test that runs while
// the spec plays the server with a probe.
type PendingGreet struct {
	done chan struct{}
	resp *contract.GreetResponse
	err  error
}

// StartGreet asks the client under test to greet addr with name, bounded by
// timeout (passed to the client as its own timeout too), and returns at
// once.
func StartGreet(addr, name string, timeout time.Duration) *PendingGreet {
	GinkgoHelper()
	p, err := clientSlot.get()
	Expect(err).NotTo(HaveOccurred(), "launching the client plugin")
	rpc, err := p.Client()
	Expect(err).NotTo(HaveOccurred())
	g := &PendingGreet{done: make(chan struct{})}
	// The RPC itself gets extra room so that a client that ignores its
	// timeout is caught by Wait, not by the RPC deadline.
	ctx, cancel := context.WithTimeout(context.Background(), timeout+Settings.WaitTimeout)
	go func() {
		defer GinkgoRecover()
		defer close(g.done)
		defer cancel()
		resp, err := rpc.Greet(ctx, &contract.GreetRequest{Address: addr, Name: name, TimeoutMs: uint32(timeout.Milliseconds())})
		g.resp, g.err = resp, p.Err("Greet", err)
	}()
	DeferCleanup(func() { cancel(); <-g.done })
	watchPlugin(p)
	return g
}

// Wait waits up to within for the client to return and gives its response.
func (g *PendingGreet) Wait(within time.Duration) *contract.GreetResponse {
	GinkgoHelper()
	Eventually(g.done).WithTimeout(within).Should(BeClosed(), "the client under test must return within %v", within)
	Expect(g.err).NotTo(HaveOccurred(), "the client plugin failed")
	return g.resp
}

// ProbeServer is a raw listener playing the server for a client spec.
type ProbeServer struct {
	*wire.Listener
}

// NewProbeServer listens on 127.0.0.1 port 0 until the spec ends.
func NewProbeServer() *ProbeServer {
	GinkgoHelper()
	ln, err := wire.Listen("127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(ln.Close)
	return &ProbeServer{Listener: ln}
}

// Accept waits for the client under test to connect.
func (p *ProbeServer) Accept() *wire.Conn {
	GinkgoHelper()
	conn, err := p.Listener.Accept(Settings.WaitTimeout)
	Expect(err).NotTo(HaveOccurred(), "the client under test must connect")
	attachTranscript("probe server <- client "+conn.RemoteAddr(), conn)
	return conn
}

// ReadName reads what the client sends until it half-closes.
func (p *ProbeServer) ReadName(conn *wire.Conn) []byte {
	GinkgoHelper()
	res := conn.ReadUntilEnd(0, Settings.WaitTimeout)
	Expect(res.End).To(Equal(wire.EndEOF), "the client must end its name with end of stream (half-close): %s", res)
	return res.Data
}

// Greet runs the whole exchange with a client under test: accept, read the
// name, send the greeting, close. It returns the name and the client's
// response.
func GreetProbe(name string) ([]byte, *contract.GreetResponse) {
	GinkgoHelper()
	probe := NewProbeServer()
	pending := StartGreet(probe.Addr(), name, Settings.WaitTimeout)
	conn := probe.Accept()
	got := probe.ReadName(conn)
	Expect(conn.Send([]byte(contract.Greeting), Settings.WaitTimeout)).To(Succeed())
	Expect(conn.Close()).To(Succeed())
	return got, pending.Wait(2 * Settings.WaitTimeout)
}
