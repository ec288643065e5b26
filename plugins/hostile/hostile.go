// Package hostile holds plugins that misbehave as plugins rather than as
// protocol implementations: they exit or hang in the middle of a run. The
// host and the runner must turn each into a clear failure, never a hang or
// a leaked process.
package hostile

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/greetspec/greetspec/core/contract"
)

// ExitCode is the status with which the hostile plugins exit.
const ExitCode = 3

// ExitOnConnection is a server that starts normally and then exits the
// whole plugin process when its first connection arrives.
type ExitOnConnection struct{}

// Start listens; the first accepted connection ends the process.
func (ExitOnConnection) Start(_ context.Context, req *contract.StartRequest, _ func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	ln, err := net.Listen("tcp", req.GetListenAddress())
	if err != nil {
		return nil, err
	}
	go func() {
		if _, err := ln.Accept(); err == nil {
			fmt.Fprintln(os.Stderr, "hostile plugin: exiting on purpose on the first connection")
			os.Exit(ExitCode)
		}
	}()
	return &contract.StartResponse{Address: ln.Addr().String()}, nil
}

// Stop does nothing; the process is gone by then.
func (ExitOnConnection) Stop(context.Context) error { return nil }

// ExitInGreet is a client that exits the plugin process when asked to greet.
type ExitInGreet struct{}

// Greet ends the process.
func (ExitInGreet) Greet(context.Context, *contract.GreetRequest) (*contract.GreetResponse, error) {
	fmt.Fprintln(os.Stderr, "hostile plugin: exiting on purpose in Greet")
	os.Exit(ExitCode)
	return nil, nil
}

// HangInGreet is a client whose Greet never returns on its own: it ignores
// its timeout and waits until the host gives up on the call.
type HangInGreet struct{}

// Greet blocks until the caller cancels.
func (HangInGreet) Greet(ctx context.Context, _ *contract.GreetRequest) (*contract.GreetResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
