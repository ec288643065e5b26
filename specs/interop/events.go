package interop

import (
	"context"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// eventWatch collects a server's ConnectionEvents from its Events stream.
type eventWatch struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	events  []*contract.ConnectionEvent
	changed chan struct{} // closed and replaced on every new event
}

func watchEvents(srv contract.GreetServerClient) *eventWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &eventWatch{cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	stream, err := srv.Events(ctx, &contract.EventsRequest{})
	go func() {
		defer close(w.done)
		if err != nil {
			return
		}
		for {
			ev, err := stream.Recv()
			if err != nil {
				return
			}
			w.mu.Lock()
			w.events = append(w.events, ev)
			close(w.changed)
			w.changed = make(chan struct{})
			w.mu.Unlock()
		}
	}()
	return w
}

// count returns how many events arrived so far.
func (w *eventWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.events)
}

// waitAfter waits up to limit for an event beyond the first n and returns
// it, or nil.
func (w *eventWatch) waitAfter(n int, limit time.Duration) *contract.ConnectionEvent {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		w.mu.Lock()
		if len(w.events) > n {
			ev := w.events[n]
			w.mu.Unlock()
			return ev
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-t.C:
			return nil
		case <-w.done:
			return nil
		}
	}
}

func (w *eventWatch) stop() {
	w.cancel()
	<-w.done
}
