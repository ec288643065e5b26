// Package hostile holds plugins that misbehave as plugins rather than as
// protocol implementations: they exit or hang in the middle of a run, or
// report what they observe more than once. The
// host and the runner must turn each into a clear failure, never a hang or
// a leaked process.
package hostile

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

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

// DuplicateGap is how long after its first report DuplicateEvents reports
// a connection again: well inside the settle time SRV-LOG-1 and SRV-CONC-2
// watch for (T, 200 ms by default), so that it proves those specs can fail.
const DuplicateGap = 100 * time.Millisecond

// DuplicateEvents is a server that serves like Inner but reports every
// connection twice, the second time DuplicateGap after the first, as a
// server that logs each connection twice would. Specs that stop looking at
// the first report miss it; SRV-LOG-1 and SRV-CONC-2 must catch it.
type DuplicateEvents struct {
	// Inner serves the connections.
	Inner contract.Server

	wg sync.WaitGroup
}

// Describe forwards Inner's description, if it has one.
func (d *DuplicateEvents) Describe() *contract.DescribeResponse {
	if in, ok := d.Inner.(contract.Describer); ok {
		return in.Describe()
	}
	return &contract.DescribeResponse{}
}

// Start starts Inner, reporting each of its events twice.
func (d *DuplicateEvents) Start(ctx context.Context, req *contract.StartRequest, report func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	return d.Inner.Start(ctx, req, func(ev *contract.ConnectionEvent) {
		report(ev)
		d.wg.Add(1)
		time.AfterFunc(DuplicateGap, func() {
			defer d.wg.Done()
			report(ev)
		})
	})
}

// Stop stops Inner, then waits for the pending second reports.
func (d *DuplicateEvents) Stop(ctx context.Context) error {
	err := d.Inner.Stop(ctx)
	d.wg.Wait()
	return err
}

// Flood serves like Inner but, for every connection, also writes
// FloodLogBytes of log noise to standard error and reports FloodEvents
// invented connections from addresses no probe uses. The host must neither
// hang nor grow without bound, and the real connections must still be
// judged correctly.
type Flood struct {
	// Inner serves the connections.
	Inner contract.Server
}

// How much Flood floods per real connection.
const (
	FloodLogBytes = 256 << 10
	FloodEvents   = 100
)

// Describe forwards Inner's description, if it has one.
func (f *Flood) Describe() *contract.DescribeResponse {
	if in, ok := f.Inner.(contract.Describer); ok {
		return in.Describe()
	}
	return &contract.DescribeResponse{}
}

// Start starts Inner, flooding after each of its events.
func (f *Flood) Start(ctx context.Context, req *contract.StartRequest, report func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	noise := bytes.Repeat([]byte("flood: the quick brown fox jumps over the lazy dog \x1b[31m red \x1b[0m\n"), FloodLogBytes/64)
	return f.Inner.Start(ctx, req, func(ev *contract.ConnectionEvent) {
		report(ev)
		_, _ = os.Stderr.Write(noise)
		for i := range FloodEvents {
			report(&contract.ConnectionEvent{
				RemoteAddress: fmt.Sprintf("192.0.2.%d:%d", 1+i%250, 40000+i),
				Name:          "invented",
				NameRaw:       []byte("invented"),
				LogLine:       "connected with: 192.0.2.1:40000 invented",
			})
		}
	})
}

// Stop stops Inner.
func (f *Flood) Stop(ctx context.Context) error { return f.Inner.Stop(ctx) }
