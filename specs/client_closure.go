package specs

import (
	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = DescribeRequirement("CLI-CLOSE-1", func() {
	DescribeTable("tells an early close from a reset and keeps the bytes received before a reset",
		func(r fixtures.Reply) {
			expectReply(playReply(r, Settings.WaitTimeout), r)
		},
		replyEntries("CLI-CLOSE-1"))

	It("reports a refused connection as ERROR_CLASS_REFUSED", func() {
		// A port that was just listened on and closed refuses connections.
		ln, err := wire.Listen("127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := ln.Addr()
		Expect(ln.Close()).To(Succeed())

		resp := StartGreet(addr, plainName(), Settings.WaitTimeout).Wait(Settings.WaitTimeout + Settings.WaitTimeout/2)
		Expect(resp.GetErrorClass()).To(Equal(contract.ErrorClass_ERROR_CLASS_REFUSED),
			"the client must report a refused connection as ERROR_CLASS_REFUSED, not %s (it said %q)",
			resp.GetErrorClass(), resp.GetError())
		Expect(resp.GetReply()).To(BeEmpty(), "a refused connection has no reply")
	})
})

var _ = DescribeRequirement("CLI-TIMEOUT-1", func() {
	DescribeTable("gives up at its timeout on a server that never answers or never closes, with the bytes it got",
		func(r fixtures.Reply) {
			expectReply(playReply(r, silentServerTimeout()), r)
		},
		replyEntries("CLI-TIMEOUT-1"))
})
