// Package wire plays one side of a raw TCP connection for conformance specs:
// it sends exact bytes (whole or in separate segments), half-closes, closes or
// resets on purpose, and observes exactly which bytes came back and how the
// connection ended (orderly close, reset, or nothing before a deadline).
//
// Every blocking operation takes a timeout, so a misbehaving implementation
// can fail a spec but never hang it; a timeout of zero or less means no
// waiting at all. Every operation is recorded in the
// connection's [Transcript], whose String method renders a readable log to
// attach to a failure message.
//
// A spec checking a server (SRV-GREET-2, SRV-NAME-1, SRV-GREET-1/3) reads:
//
//	c, err := wire.Dial(serverAddr, time.Second)
//	Expect(err).NotTo(HaveOccurred())
//	defer c.Close()
//
//	// A name written in two segments, 50ms apart.
//	Expect(c.SendPieces([][]byte{[]byte("As"), []byte("if")}, 50*time.Millisecond, time.Second)).To(Succeed())
//
//	// The name has not ended yet: nothing may arrive.
//	r := c.ReadFor(100 * time.Millisecond)
//	Expect(r.Data).To(BeEmpty(), c.Transcript().String())
//
//	// End of stream ends the name; the greeting follows, then a FIN.
//	Expect(c.CloseWrite()).To(Succeed())
//	r = c.ReadUntilEnd(1024, 2*time.Second)
//	Expect(string(r.Data)).To(Equal("welcome to Asif server"), c.Transcript().String())
//	Expect(r.End).To(Equal(wire.EndEOF), c.Transcript().String())
//
// A spec checking a client plays the server with a [Listener]:
//
//	l, _ := wire.Listen("127.0.0.1:0")
//	defer l.Close()
//	// ... tell the client under test to greet l.Addr() ...
//	c, err := l.Accept(2 * time.Second)
//	Expect(err).NotTo(HaveOccurred())
//	defer c.Close()
//	r := c.ReadUntilEnd(0, 2*time.Second) // CLI-SEND-2: the client half-closes
//	Expect(r.End).To(Equal(wire.EndEOF), c.Transcript().String())
//	Expect(c.Send([]byte("welcome to Asif server"), time.Second)).To(Succeed())
//	Expect(c.Close()).To(Succeed())
//
// # Resets and data in flight
//
// On Linux a socket closed while unread bytes sit in its receive buffer
// sends RST instead of FIN; [Conn.Abort] forces the same with SO_LINGER 0.
// Observed on Linux loopback, and pinned down by this package's tests:
//
//   - bytes that reached the receiver before the RST stay readable: reads
//     return them first and only then report the reset, so [Result.Data]
//     holds them and [Result.End] is [EndReset];
//   - in particular a server that writes its greeting and then closes with
//     unread input is seen as the whole greeting followed by [EndReset]: a
//     spec for an orderly close (SRV-CLOSE-1) must check End, not only Data;
//   - a FIN received before the RST wins: reads keep reporting [EndEOF],
//     while the next write fails with ECONNRESET or EPIPE, which [Classify]
//     maps to [EndReset].
//
// Bytes the resetting side had not yet transmitted are discarded with the
// RST. Loopback transmits at once, but other links and other systems may lose
// data this way, which is why the protocol asks for an orderly close.
//
// # Failures the peer caused
//
// When a send or a half-close fails because the peer had already replied,
// closed or reset the connection (ECONNRESET, EPIPE or ENOTCONN on a Conn
// this side has not closed), the error is a [*PeerError]. It looks at the
// socket without consuming anything (the bytes waiting, the TCP state) and
// says first what the peer did ("the peer replied (22 bytes "welcome to
// Asif server") and reset the connection"), then which local call failed,
// so that a failure report blames the implementation's action rather than
// the harness's syscall. [Conn.SendPiecesWhileOpen] also stops, with a
// PeerError, as soon as the peer has ended its stream between pieces.
package wire
