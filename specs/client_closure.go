package specs

import (
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
		// A port that was just listened on and closed refuses connections
		// (on an address of its own, so that no other program on the
		// machine is likely to take the port meanwhile).
		ln, err := listenLoopback()
		Expect(err).NotTo(HaveOccurred())
		addr := ln.Addr()
		Expect(ln.Close()).To(Succeed())

		pending := StartGreet(addr, plainName(), Settings.WaitTimeout)
		resp := pending.Wait(pending.Timeout + Settings.WaitTimeout/2)
		expectClass(pending, "ERROR_CLASS_REFUSED", "the connection was refused")
		Expect(resp.GetReply()).To(BeEmpty(),
			"a refused connection has no reply (a wrapped program's standard output is its reply: errors go to standard error)")
	})
})

var _ = DescribeRequirement("CLI-TIMEOUT-1", func() {
	DescribeTable("gives up at its timeout on a server that never answers or never closes, with the bytes it got",
		func(r fixtures.Reply) {
			if CurrentClientChannel().NoTimeout {
				Skip(NotObservablePrefix + "the client program is not told its timeout: add {timeout_ms} to --client-cmd")
			}
			expectReply(playReply(r, silentServerTimeout()), r)
		},
		replyEntries("CLI-TIMEOUT-1"))
})
