package specs

import (
	"fmt"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Server specs for the closure section of PROTOCOL.md: how the server ends
// connections, and that clients ending theirs early cannot stop it.

var _ = DescribeRequirement("SRV-CLOSE-1", func() {
	// closesInOrder sends a name longer than 1024 bytes, half-closing or
	// not, and checks that the greeting arrives followed by FIN rather than
	// a reset. If the client keeps its side open it also checks that the
	// server's drain is bounded by T. Last it checks that the greeting
	// arrived whole, as the server reports having sent it.
	closesInOrder := func(c fixtures.Length, halfClose bool) {
		GinkgoHelper()
		server := StartServer(0)
		conn := server.Dial()
		before := fmt.Sprintf("the probe client had sent all %d bytes of an over-long name (it must drain them)", c.TotalBytes)
		expectProbeOK(conn, conn.Send(c.Bytes, Settings.WaitTimeout), before, "sending the over-long name")
		if halfClose {
			expectProbeOK(conn, conn.CloseWrite(), "the probe client had half-closed (it must drain input)", "half-closing after the over-long name")
		}
		res := conn.ReadUntilEnd(0, Settings.WaitTimeout+server.Idle)
		Expect(res.Data).NotTo(BeEmpty(),
			"%s after a %d-byte name (%s); it must greet such a client", res.Did("the server"), c.TotalBytes, c.Why)
		Expect(res.End).To(Equal(wire.EndEOF),
			"%s after a %d-byte name; it must end the connection with FIN, not a reset: half-close, drain, then close", res.Did("the server"), c.TotalBytes)
		if !halfClose {
			// Once the server has closed, a byte sent to it draws a reset
			// and the next send fails.
			probe := fixtures.Payload(1)
			Eventually(func() error { return conn.Send(probe, Settings.WaitTimeout) }).
				WithTimeout(server.Idle+Settings.WaitTimeout).WithPolling(Settings.Gap).
				Should(HaveOccurred(), "the server kept the connection open, still taking bytes, %v after greeting a %d-byte name; it must close it after draining input for at most T (%v)",
					server.Idle+Settings.WaitTimeout, c.TotalBytes, server.Idle)
		}
		Expect(conn.Close()).To(Succeed())
		if !server.ObservesReplies() {
			return // the greeting's arrival and the FIN are what the wire shows
		}
		ev := server.EventFor(conn, 0)
		Expect(res.Data).To(equalBytes(ev.GetReply()),
			"the greeting must arrive intact, as the server sent it, after a %d-byte name: %s; %s", c.TotalBytes, res, describeEvent(ev))
	}

	DescribeTable("greets, then closes in order within T, a client that sent more than 1024 bytes and keeps its side open",
		func(c fixtures.Length) { closesInOrder(c, false) },
		fixtureEntries(overLimitLengths(), func(c fixtures.Length) string { return c.ID }),
	)

	DescribeTable("greets and closes in order a client that sent more than 1024 bytes and half-closed",
		func(c fixtures.Length) { closesInOrder(c, true) },
		fixtureEntries(overLimitLengths(), func(c fixtures.Length) string { return c.ID }),
	)
})

// earlyExit is a client that leaves at some point of the exchange. logged
// says whether the name surely ended, so that a log line must follow: a
// close is end of stream, but a reset may reach the server before the name
// ended, and then there is no name and no log line (PROTOCOL.md decision 8).
type earlyExit struct {
	what   string
	logged bool
	leave  func(conn *wire.Conn, name []byte)
}

var earlyExits = []TableEntry{
	Entry("close-before-sending", earlyExit{"a client closed before sending", true, func(conn *wire.Conn, _ []byte) {
		Expect(conn.Close()).To(Succeed())
	}}),
	Entry("reset-before-sending", earlyExit{"a client reset the connection before sending", false, func(conn *wire.Conn, _ []byte) {
		Expect(conn.Abort()).To(Succeed())
	}}),
	Entry("reset-mid-name", earlyExit{"a client reset the connection in the middle of its name", false, func(conn *wire.Conn, name []byte) {
		Expect(conn.Send(name, Settings.WaitTimeout)).To(Succeed())
		Expect(conn.Abort()).To(Succeed())
	}}),
	Entry("close-after-sending", earlyExit{"a client closed after sending without reading the reply", true, func(conn *wire.Conn, name []byte) {
		Expect(conn.Send(name, Settings.WaitTimeout)).To(Succeed())
		Expect(conn.Close()).To(Succeed())
	}}),
	Entry("reset-after-sending", earlyExit{"a client reset the connection after sending and half-closing", false, func(conn *wire.Conn, name []byte) {
		Expect(conn.Send(name, Settings.WaitTimeout)).To(Succeed())
		Expect(conn.CloseWrite()).To(Succeed())
		Expect(conn.Abort()).To(Succeed())
	}}),
}

var _ = DescribeRequirement("SRV-CLOSE-2", func() {
	DescribeTable("keeps serving after a client leaves early",
		func(exit earlyExit) {
			server := StartServer(0)
			conn := server.Dial()
			exit.leave(conn, fixtureNameByID("ascii").Bytes)
			// Wait until the server is done with that connection, so that a
			// server dying because of it cannot slip the next client through:
			// its event says so, or its log line when the name surely ended.
			// Otherwise the server gets T, the longest it may spend on a
			// connection without a byte, before the next client comes.
			if server.Channel() == ChannelFull || (server.Channel() == ChannelLog && exit.logged) {
				server.EventFor(conn, 0)
			} else {
				<-time.After(server.Idle)
			}
			expectStillServing(server, exit.what)
		},
		earlyExits,
	)
})

var _ = DescribeRequirement("SRV-IDLE-1", func() {
	It("closes without a greeting a connection on which no byte arrives for T", func() {
		server := StartServer(0)
		conn := server.Dial()
		res := conn.ReadUntilEnd(0, server.Idle+Settings.WaitTimeout)
		Expect(res.Data).To(BeEmpty(),
			"%s on a connection on which no byte arrived; it must send nothing there and close it after T (%v)", res.Did("the server"), server.Idle)
		Expect(res.End).To(BeElementOf(wire.EndEOF, wire.EndReset),
			"%s on a connection on which no byte arrived; it must close it after T (%v)", res.Did("the server"), server.Idle)
	})
})

// overLimitLengths returns the boundary lengths past the 1024-byte limit.
func overLimitLengths() []fixtures.Length {
	var out []fixtures.Length
	for _, c := range fixtures.Lengths() {
		if c.TotalBytes > contract.MaxNameBytes {
			out = append(out, c)
		}
	}
	return out
}
