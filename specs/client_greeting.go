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
		pending := StartGreet(probe.Addr(), "Bob", 2*Settings.WaitTimeout)
		conn := probe.Accept(pending)
		// A conforming client half-closes right after its name; the wait
		// ends then. What judges "it did not" is half the client's own
		// timeout: well after any name is sent, and before a client that
		// waits for the reply gives up and closes (which would look like
		// a half-close here).
		within := pending.Timeout / 2
		res := conn.ReadUntilEnd(0, within)
		Expect(res.End).To(Equal(wire.EndEOF),
			"%s after its name; it must half-close after the name (watched for %v, half the timeout it was given)", res.Did("the client"), within)
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
