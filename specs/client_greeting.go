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
		conn := probe.Accept()
		res := conn.ReadUntilEnd(0, Settings.WaitTimeout)
		Expect(res.End).To(Equal(wire.EndEOF), "the client must half-close after its name: %s", res)
		Expect(conn.Send([]byte(contract.Greeting), Settings.WaitTimeout)).To(Succeed())
		Expect(conn.Close()).To(Succeed())
		resp := pending.Wait(2 * Settings.WaitTimeout)
		Expect(resp.GetErrorClass()).To(Equal(contract.ErrorClass_ERROR_CLASS_NONE), "client error: %s", resp.GetError())
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
