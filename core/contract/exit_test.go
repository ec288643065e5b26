package contract

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// exitingServer reports one event and then stops serving on its own.
type exitingServer struct {
	died chan struct{}
}

func (s *exitingServer) Start(_ context.Context, _ *StartRequest, report func(*ConnectionEvent)) (*StartResponse, error) {
	report(&ConnectionEvent{RemoteAddress: "127.0.0.1:1", Name: "Bob"})
	return &StartResponse{Address: "127.0.0.1:2"}, nil
}

func (s *exitingServer) Stop(context.Context) error { return nil }

func (s *exitingServer) Exited() (<-chan struct{}, func() error) {
	return s.died, func() error { return errors.New("the server program exited with status 1: boom") }
}

// eventStream collects what Events sends.
type eventStream struct {
	grpc.ServerStream
	ctx  context.Context
	sent []*ConnectionEvent
}

func (e *eventStream) Send(ev *ConnectionEvent) error { e.sent = append(e.sent, ev); return nil }
func (e *eventStream) Context() context.Context       { return e.ctx }

func TestEventsEndWithTheServersExit(t *testing.T) {
	impl := &exitingServer{died: make(chan struct{})}
	a := newServerAdapter(impl)
	if _, err := a.Start(context.Background(), &StartRequest{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream := &eventStream{ctx: ctx}
	done := make(chan error, 1)
	go func() { done <- a.Events(&EventsRequest{}, stream) }()
	close(impl.died)
	err := <-done
	if st, ok := status.FromError(err); !ok || st.Code() != codes.Aborted || st.Message() != "the server program exited with status 1: boom" {
		t.Errorf("Events ended with %v, want Aborted with the reason", err)
	}
	if len(stream.sent) != 1 || stream.sent[0].GetName() != "Bob" {
		t.Errorf("events sent before the end: %v", stream.sent)
	}
}
