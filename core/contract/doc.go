// Package contract is the public plugin contract of greetspec: the gRPC
// services a server or client implementation under test exposes (see
// greet.proto), the go-plugin handshake, and the glue that turns a Go
// implementation into a plugin binary. A plugin imports this package and
// nothing else of greetspec.
//
// # Writing a plugin
//
// A plugin is a main package that implements [Server], [Client] or both and
// hands them to [Serve]. greetspec starts the binary, calls Start with an
// address and the idle timeout T, connects probe clients to the address it
// gets back, and judges the server by what arrives on the wire and by the
// [ConnectionEvent] the server reports for each connection. A client is
// judged by what it sends to a probe server and by the [GreetResponse] it
// returns.
//
// The smallest server plugin (error handling shortened; see the package
// examples for the complete exchange):
//
//	package main
//
//	import (
//		"context"
//		"net"
//
//		"github.com/greetspec/greetspec/core/contract"
//	)
//
//	type server struct{ ln net.Listener }
//
//	func (s *server) Start(ctx context.Context, req *contract.StartRequest, report func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
//		ln, err := net.Listen("tcp", req.GetListenAddress())
//		if err != nil {
//			return nil, err
//		}
//		s.ln = ln
//		go acceptLoop(ln, req.GetIdleTimeoutMs(), report) // read the name, log, greet, close
//		return &contract.StartResponse{Address: ln.Addr().String()}, nil
//	}
//
//	func (s *server) Stop(context.Context) error { return s.ln.Close() }
//
//	func main() { contract.Serve(contract.Plugins{Server: &server{}}) }
//
// Build it and run the suite against it:
//
//	go build -o my-server .
//	greetspec run --server ./my-server
//
// # Using the package outside the greetspec repository
//
// The contract lives in the module github.com/greetspec/greetspec. A plugin
// kept in a module of its own requires that module; until a version of it is
// published where the plugin's build can fetch it, point the requirement at
// a checkout of greetspec with a replace directive in the plugin's go.mod:
//
//	require github.com/greetspec/greetspec v0.0.0
//	replace github.com/greetspec/greetspec => ../greetspec
//
// # Observations and capabilities
//
// A server reports one [ConnectionEvent] per finished connection: the raw
// name bytes, the decoded name, what ended the name, the reply written and
// the log line. A plugin that cannot observe some of these (for example the
// exec adapter, which reads a program's log) declares a capability through
// [Describer] ([CapabilityEventsFromLog], [CapabilityClientText],
// [CapabilityNoTimeout]); the specs then judge only what is observed and
// report the rest as not observable, never as failed.
//
// # Compatibility promise
//
// The handshake's ProtocolVersion ([Handshake]) is 1. It is bumped only by a
// change that breaks existing plugins: a removed or renumbered field, RPC or
// enum value, or a changed meaning of an existing one. Within version 1,
// additions keep old plugins working: new fields and enum values are
// optional and default to "not reported", new RPCs are optional (a plugin
// that lacks one answers Unimplemented and the host copes), and new
// capability names are only ever declared by plugins, never required of
// them. A plugin built against version 1 runs against every greetspec that
// speaks version 1; greetspec refuses, with a message naming both versions,
// a plugin whose handshake version differs.
package contract
