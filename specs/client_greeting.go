package specs

import (
	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = DescribeRequirement("CLI-SEND-2", func() {
	It("half-closes after the name and returns the greeting it then receives", func() {
		probe := NewProbeServer()
		pending := StartGreet(probe.Addr(), "Bob", Settings.WaitTimeout)
		conn := probe.Accept(pending)
		// A conforming client half-closes at once; the wait ends then. What
		// judges "it did not" is the client's own timeout: past it, a
		// client may give up and close.
		res := conn.ReadUntilEnd(0, pending.Timeout)
		Expect(res.End).To(Equal(wire.EndEOF),
			"the client must half-close after its name: no end of stream within %v, the timeout it was given: %s", pending.Timeout, res)
		Expect(conn.Send([]byte(contract.Greeting), Settings.WaitTimeout)).To(Succeed())
		Expect(conn.Close()).To(Succeed())
		pending.Wait(pending.Timeout + Settings.WaitTimeout/2)
		expectGreeting(pending)
	})
})

var _ = DescribeRequirement("CLI-REPLY-1", func() {
	DescribeTable("returns the whole reply, however it is split, once the server closes or 1024 bytes have arrived",
		func(r fixtures.Reply) {
			expectReply(playReply(r, Settings.WaitTimeout), r)
		},
		replyEntries("CLI-REPLY-1"))
})
