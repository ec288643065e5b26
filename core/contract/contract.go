package contract

import (
	"context"
	"os"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Plugin names under which the two roles are dispensed.
const (
	ServerPluginName = "server"
	ClientPluginName = "client"
)

// Handshake is the go-plugin handshake every greetspec plugin uses. A plugin
// started by anything other than a greetspec host sees the magic cookie
// missing and exits with an explanation instead of serving.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "GREETSPEC_PLUGIN",
	MagicCookieValue: "greeting-protocol-conformance",
}

// MaxNameBytes is the protocol's limit on the name and on the reply: 1024 bytes.
const MaxNameBytes = 1024

// Greeting is the exact reply a server sends.
const Greeting = "welcome to Asif server"

// Server is what a Go server implementation provides.
type Server interface {
	// Start listens as req asks and returns the bound address. It calls
	// report once for every connection when that connection is finished.
	// report is safe to call from any goroutine.
	Start(ctx context.Context, req *StartRequest, report func(*ConnectionEvent)) (*StartResponse, error)
	// Stop closes the listener and every open connection and returns when
	// the server no longer touches the network.
	Stop(ctx context.Context) error
}

// Client is what a Go client implementation provides.
type Client interface {
	// Greet runs one greeting exchange. Protocol failures go into the
	// response's error class, not into the returned error.
	Greet(ctx context.Context, req *GreetRequest) (*GreetResponse, error)
}

// ServerExit may be implemented by a Server that can stop serving on its
// own, such as a wrapped program that exits. Exited is called once per
// Events stream, after Start: it returns a channel that is closed when the
// server of that Start stopped serving without being asked to (after every
// event it produced has been reported), and a function giving the reason.
// The Events stream then ends with that reason as a gRPC status with code
// Aborted, so that the host can say why events stopped coming. A nil
// channel means the server cannot tell.
type ServerExit interface {
	Exited() (<-chan struct{}, func() error)
}

// ServerKeeper may be implemented by a Server that is expensive to start,
// such as a wrapped program, and can keep it running between runs. When the
// host's StopRequest says the run is reusable (the spec using it did not
// fail), StopKeeping is called instead of Stop: it ends the run (no event
// of it is reported afterwards) but may keep the server for the next Start
// with the same settings. What a Server keeps must end at the latest with
// its process (the host ends a plugin's whole process tree).
type ServerKeeper interface {
	StopKeeping(ctx context.Context) error
}

// Describer may be implemented by a Server or Client to name itself and
// declare optional capabilities.
type Describer interface {
	Describe() *DescribeResponse
}

// Plugins holds the implementations a plugin binary serves; either may be nil.
type Plugins struct {
	Server Server
	Client Client
}

// Serve runs the plugin process: it answers the handshake on stdout and
// serves the given roles over gRPC with go-plugin's automatic mTLS until the
// host kills it. It returns only in an unrecoverable error, after printing it.
func Serve(p Plugins) {
	if os.Getenv(AttachEnv) != "" {
		serveAttached(p)
		return
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         p.pluginSet(),
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

func (p Plugins) pluginSet() plugin.PluginSet {
	set := plugin.PluginSet{}
	if p.Server != nil {
		set[ServerPluginName] = &ServerPlugin{Impl: p.Server}
	}
	if p.Client != nil {
		set[ClientPluginName] = &ClientPlugin{Impl: p.Client}
	}
	return set
}

// HostPlugins is the plugin map a host passes to go-plugin: both roles,
// without implementations.
func HostPlugins() plugin.PluginSet {
	return plugin.PluginSet{
		ServerPluginName: &ServerPlugin{},
		ClientPluginName: &ClientPlugin{},
	}
}

// ServerPlugin is the go-plugin glue for the server role. On the plugin side
// Impl is set; on the host side GRPCClient returns a [GreetServerClient].
type ServerPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Server
}

// GRPCServer registers Impl's gRPC service.
func (p *ServerPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterGreetServerServer(s, newServerAdapter(p.Impl))
	return nil
}

// GRPCClient returns the host's gRPC client for the server role.
func (p *ServerPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewGreetServerClient(c), nil
}

// ClientPlugin is the go-plugin glue for the client role. On the plugin side
// Impl is set; on the host side GRPCClient returns a [GreetClientClient].
type ClientPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Client
}

// GRPCServer registers Impl's gRPC service.
func (p *ClientPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterGreetClientServer(s, &clientAdapter{impl: p.Impl})
	return nil
}

// GRPCClient returns the host's gRPC client for the client role.
func (p *ClientPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewGreetClientClient(c), nil
}

// BuiltinEnv names the environment variable with which a greetspec binary is
// asked to serve one of its built-in plugins instead of doing its normal job.
const BuiltinEnv = "GREETSPEC_BUILTIN_PLUGIN"

// CapabilityEventsFromLog is declared by a server whose ConnectionEvents are
// reconstructed from its log lines (the exec adapter): remote_address, name
// and log_line are observed; name_raw is the UTF-8 encoding of the logged
// name; reply, name_end and error are not observed. Specs that need what is
// not observed report it as not observable rather than failed.
const CapabilityEventsFromLog = "events-from-log"

// CapabilityClientText is declared by a client whose results are read from
// a program's printed output (the exec adapter): GreetResponse.reply is the
// text the program printed (its own decoding of the bytes it received, in
// UTF-8), not the raw bytes; bytes received before a failure are known only
// if the program printed them; the error class is inferred from the
// program's exit status and words. Specs compare such a reply by its decoded
// text and report what the channel cannot carry as not observable.
const CapabilityClientText = "client-text"

// CapabilityNoTimeout is declared by a client that cannot be told the
// timeout of GreetRequest.timeout_ms (a wrapped program whose command
// template has no {timeout_ms}); whether it honours a timeout is then not
// observable.
const CapabilityNoTimeout = "timeout-not-passed"
