package contract

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// slowServer's Start succeeds only after its caller's context has ended.
type slowServer struct{ keepingServer }

func (s *slowServer) Start(ctx context.Context, req *StartRequest, report func(*ConnectionEvent)) (*StartResponse, error) {
	<-ctx.Done()
	return s.keepingServer.Start(ctx, req, report)
}

// A Start that succeeds after its caller gave up stops what it started and
// fails, so that the next Start is not refused as "already started".
func TestStartAfterDeadlineLeavesNothingStarted(t *testing.T) {
	impl := &slowServer{}
	a := newServerAdapter(impl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := a.Start(ctx, &StartRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Start after its deadline = %v, want DeadlineExceeded", err)
	}
	if got := impl.calls; len(got) != 1 || got[0] != "Stop" {
		t.Errorf("calls %v, want [Stop]", got)
	}
	a.mu.Lock()
	running := a.running
	a.mu.Unlock()
	if running {
		t.Error("the adapter still counts the server as started")
	}
}
