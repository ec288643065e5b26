package specs

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	. "github.com/onsi/ginkgo/v2"
)

// Failure messages about the probe client's own calls, cause first: when a
// send or a half-close fails because the server had already replied, closed
// or reset the connection, the first line says so, not which syscall of the
// harness then failed.

// expectProbeOK fails the spec if err, from a send or a half-close of the
// probe conn, is not nil. A *wire.PeerError fails with what the server did
// and that it did it before the given moment ("the name had ended"), then
// what the probe was doing and the connection's transcript; any other error
// is the harness's own and fails with doing first.
func expectProbeOK(conn *wire.Conn, err error, before, doing string) {
	GinkgoHelper()
	if err == nil {
		return
	}
	var pe *wire.PeerError
	if errors.As(err, &pe) {
		Fail(fmt.Sprintf("%s, while the probe client was %s\n%s", pe.Describe("the server", before), doing, conn.Transcript()))
	}
	Fail(fmt.Sprintf("%s: %v", doing, err))
}

// dialFailure describes, cause first, a failed connection to the server
// under test at addr.
func dialFailure(addr string, err error) string {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("the server refused the connection: nothing accepts connections at %s any more (%v)", addr, err)
	}
	return fmt.Sprintf("the server could not be reached at %s: %v", addr, err)
}

// shortBytes returns b, or its first 64 bytes followed by "...", for a
// failure message that must stay readable whatever the implementation sent.
func shortBytes(b []byte) string {
	if len(b) <= 64 {
		return string(b)
	}
	return string(b[:64]) + "..."
}

// bytesTaken says, where the channel carries the raw name, how many bytes
// the server took as the name: " (N bytes taken)", or "".
func bytesTaken(server *ServerUnderTest, ev *contract.ConnectionEvent) string {
	if !server.ObservesRaw() {
		return ""
	}
	return fmt.Sprintf(" (%d bytes taken)", len(ev.GetNameRaw()))
}
