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
		// The client's timeout outlasts the probe's wait for the half-close,
		// so a client that never half-closes cannot end the wait by giving
		// up and closing (which would look like end of stream).
		pending := StartGreet(probe.Addr(), "Bob", 2*Settings.WaitTimeout)
		conn := probe.Accept()
		res := conn.ReadUntilEnd(0, Settings.WaitTimeout)
		Expect(res.End).To(Equal(wire.EndEOF), "the client sent %d bytes %q and did not end its stream (%s); it must half-close after its name", len(res.Data), res.Data, res)
		Expect(conn.Send([]byte(contract.Greeting), Settings.WaitTimeout)).To(Succeed())
		Expect(conn.Close()).To(Succeed())
		resp := pending.Wait(3 * Settings.WaitTimeout)
		Expect(resp.GetErrorClass()).To(Equal(contract.ErrorClass_ERROR_CLASS_NONE),
			"the client reported %s (it said %q) after the greeting and the server's close; it must return the greeting", resp.GetErrorClass(), resp.GetError())
		Expect(resp.GetReply()).To(Equal([]byte(contract.Greeting)))
		Expect(resp.GetShown()).To(Equal(contract.Greeting))
	})
})

var _ = DescribeRequirement("CLI-REPLY-1", func() {
	DescribeTable("returns the whole reply, however it is split, once the server closes or 1024 bytes have arrived",
		func(r fixtures.Reply) {
			expectReply(playReply(r, Settings.WaitTimeout), r)
		},
		replyEntries("CLI-REPLY-1"))
})
