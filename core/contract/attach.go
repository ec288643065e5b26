package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-plugin"
)

// AttachEnv is the environment variable that starts a plugin in attach
// mode: set to any non-empty value, [Serve] does not wait for a greetspec
// host to start it. It serves on a local address, prints one line
// beginning with [AttachLinePrefix] and its [AttachDetails] as JSON on
// standard output, and serves until interrupted (Ctrl-C or SIGTERM). Run
// the plugin so under a debugger or in an IDE, then pass the details to
// `greetspec run --attach-server DETAILS` (or --attach-client): greetspec
// connects to it instead of starting a process, and leaves it running.
//
//	GREETSPEC_ATTACH=1 dlv debug ./my-plugin
//	greetspec run --attach-server '{"network":"tcp","address":"127.0.0.1:40123","pid":4242,"protocol_version":1}'
//
// Attach mode uses no TLS and no magic cookie: it is for a developer's own
// machine.
const AttachEnv = "GREETSPEC_ATTACH"

// AttachLinePrefix starts the line a plugin in attach mode prints.
const AttachLinePrefix = "greetspec attach details:"

// AttachDetails say where a plugin started in attach mode serves.
type AttachDetails struct {
	// Network is "tcp" or "unix".
	Network string `json:"network"`
	// Address is host:port, or a socket path.
	Address string `json:"address"`
	// PID is the plugin's process ID.
	PID int `json:"pid"`
	// ProtocolVersion is the handshake's protocol version.
	ProtocolVersion int `json:"protocol_version"`
}

// serveAttached serves p in attach mode (see AttachEnv).
func serveAttached(p Plugins) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ch := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         p.pluginSet(),
		GRPCServer:      plugin.DefaultGRPCServer,
		Test:            &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: ch, CloseCh: closed},
	})
	select {
	case rc := <-ch:
		d := AttachDetails{Network: rc.Addr.Network(), Address: rc.Addr.String(), PID: os.Getpid(), ProtocolVersion: int(Handshake.ProtocolVersion)}
		if _, ok := rc.Addr.(*net.TCPAddr); ok {
			d.Network = "tcp"
		}
		b, _ := json.Marshal(d)
		fmt.Printf("%s %s\n", AttachLinePrefix, b)
		fmt.Fprintf(os.Stderr, "Attach mode: serving until interrupted. Test it with\n  greetspec run --attach-server '%s'   (or --attach-client)\n", b)
	case <-closed:
		fmt.Fprintln(os.Stderr, "attach mode: the plugin server ended before it served")
		os.Exit(1)
	}
	<-closed
}
