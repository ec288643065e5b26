package contract

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// describe returns impl's self-description, or an empty one.
func describe(impl interface{}) *DescribeResponse {
	if d, ok := impl.(Describer); ok {
		return d.Describe()
	}
	return &DescribeResponse{}
}

// serverAdapter turns a Go Server into the GreetServer gRPC service. It keeps
// the events of the current run so that an Events stream opened after Start
// still sees every connection.
type serverAdapter struct {
	UnimplementedGreetServerServer
	impl Server

	mu      sync.Mutex
	running bool
	run     int // counts Starts, so a stream never spans two runs
	events  []*ConnectionEvent
	changed chan struct{} // closed and replaced whenever events or running change
}

func newServerAdapter(impl Server) *serverAdapter {
	return &serverAdapter{impl: impl, changed: make(chan struct{})}
}

// notify wakes every Events stream; the caller holds mu.
func (a *serverAdapter) notify() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *serverAdapter) Describe(context.Context, *DescribeRequest) (*DescribeResponse, error) {
	return describe(a.impl), nil
}

func (a *serverAdapter) Start(ctx context.Context, req *StartRequest) (*StartResponse, error) {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return nil, status.Error(codes.FailedPrecondition, "server already started")
	}
	a.running = true
	a.run++
	a.events = nil
	a.notify()
	a.mu.Unlock()

	resp, err := a.impl.Start(ctx, req, a.report)
	if err != nil {
		a.mu.Lock()
		a.running = false
		a.notify()
		a.mu.Unlock()
		return nil, err
	}
	return resp, nil
}

func (a *serverAdapter) report(ev *ConnectionEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, ev)
	a.notify()
}

func (a *serverAdapter) Stop(ctx context.Context, req *StopRequest) (*StopResponse, error) {
	a.mu.Lock()
	running := a.running
	a.mu.Unlock()
	if !running {
		return &StopResponse{}, nil
	}
	var err error
	if k, ok := a.impl.(ServerKeeper); ok && req.GetReusable() {
		err = k.StopKeeping(ctx)
	} else {
		err = a.impl.Stop(ctx)
	}
	a.mu.Lock()
	a.running = false
	a.notify()
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &StopResponse{}, nil
}

func (a *serverAdapter) Events(_ *EventsRequest, stream GreetServer_EventsServer) error {
	a.mu.Lock()
	run := a.run
	a.mu.Unlock()
	var exited <-chan struct{}
	why := func() error { return nil }
	if x, ok := a.impl.(ServerExit); ok {
		exited, why = x.Exited()
	}
	sent := 0
	for {
		a.mu.Lock()
		if a.run != run {
			a.mu.Unlock()
			return nil
		}
		pending := a.events[sent:]
		running, changed := a.running, a.changed
		a.mu.Unlock()
		for _, ev := range pending {
			if err := stream.Send(ev); err != nil {
				return err
			}
			sent++
		}
		if !running && len(pending) == 0 {
			return nil
		}
		select {
		case <-exited:
			if len(pending) == 0 {
				msg := "the server stopped serving on its own"
				if err := why(); err != nil {
					msg = err.Error()
				}
				return status.Error(codes.Aborted, msg)
			}
		default:
		}
		select {
		case <-changed:
		case <-exited:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// clientAdapter turns a Go Client into the GreetClient gRPC service.
type clientAdapter struct {
	UnimplementedGreetClientServer
	impl Client
}

func (a *clientAdapter) Describe(context.Context, *DescribeRequest) (*DescribeResponse, error) {
	return describe(a.impl), nil
}

func (a *clientAdapter) Greet(ctx context.Context, req *GreetRequest) (*GreetResponse, error) {
	return a.impl.Greet(ctx, req)
}
