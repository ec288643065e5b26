package specs

import (
	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Specs of the server's 1024-byte name limit (PROTOCOL.md, section Limits).
// What the server does with the bytes past the limit when closing is
// SRV-CLOSE-1's; these specs look only at the name and at when it ends.

var _ = DescribeRequirement("SRV-LIMIT-1", func() {
	DescribeTable("takes at most the first 1024 bytes as the name",
		func(l fixtures.Length) {
			server := StartServer(0)
			conn := server.Dial()
			sendName(conn, l.Bytes)
			conn.ReadUntilEnd(0, Settings.WaitTimeout+server.Idle)
			Expect(conn.Close()).To(Succeed())
			ev := server.EventFor(conn, 0)
			if server.ObservesRaw() {
				Expect(len(ev.GetNameRaw())).To(Equal(l.NameBytes),
					"the server took a name of %d bytes of the %d sent; it must take the first %d, no later byte: %s",
					len(ev.GetNameRaw()), l.TotalBytes, l.NameBytes, describeEvent(ev))
				Expect(ev.GetNameRaw()).To(Equal(l.NameRaw),
					"of %d bytes sent the name must be exactly the first %d", l.TotalBytes, l.NameBytes)
			}
			// The payload is ASCII, so the decoded (and logged) name shows
			// every byte the server took.
			Expect(len(ev.GetName())).To(Equal(l.NameBytes),
				"the server took a name of %d bytes of the %d sent; it must take the first %d, no later byte: %s",
				len(ev.GetName()), l.TotalBytes, l.NameBytes, describeEvent(ev))
			Expect(ev.GetName()).To(Equal(string(l.NameRaw)),
				"the decoded name must be the first %d bytes, no later byte", l.NameBytes)
		},
		func() []TableEntry {
			var out []TableEntry
			for _, l := range fixtures.Lengths() {
				out = append(out, Entry(l.ID, l))
			}
			return out
		}(),
	)
})

var _ = DescribeRequirement("SRV-LIMIT-2", func() {
	DescribeTable("ends the name at the 1024th byte without waiting for more, end of stream or T",
		func(l fixtures.Length) {
			// With T at 30 s a greeting within WaitTimeout can only come
			// from the limit.
			server := StartServer(atOnceIdle)
			window, within := server.AtOnce()
			attemptTimed(server, "once 1024 bytes have arrived the server must end the name at once and greet", func() *earlyAction {
				conn := server.Dial()
				sendBytes(conn, l.Bytes)
				return greetedWithin(conn, len(contract.Greeting), window, within,
					"once 1024 bytes have arrived the server must end the name at once and greet, without waiting for more bytes, end of stream or T")
			})
		},
		func() []TableEntry {
			var out []TableEntry
			for _, l := range fixtures.Lengths() {
				if l.TotalBytes >= contract.MaxNameBytes {
					out = append(out, Entry(l.ID, l))
				}
			}
			return out
		}(),
	)
})
