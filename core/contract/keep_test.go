package contract

import (
	"context"
	"testing"
)

// keepingServer records which of Stop and StopKeeping was called.
type keepingServer struct{ calls []string }

func (s *keepingServer) Start(context.Context, *StartRequest, func(*ConnectionEvent)) (*StartResponse, error) {
	return &StartResponse{Address: "127.0.0.1:2"}, nil
}

func (s *keepingServer) Stop(context.Context) error {
	s.calls = append(s.calls, "Stop")
	return nil
}

func (s *keepingServer) StopKeeping(context.Context) error {
	s.calls = append(s.calls, "StopKeeping")
	return nil
}

// A Stop whose request says the run is reusable reaches a ServerKeeper as
// StopKeeping; any other Stop (what older hosts send) as Stop; and a
// server that keeps nothing always gets Stop.
func TestStopReusableReachesServerKeeper(t *testing.T) {
	ctx := context.Background()
	impl := &keepingServer{}
	a := newServerAdapter(impl)
	for _, reusable := range []bool{true, false} {
		if _, err := a.Start(ctx, &StartRequest{}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Stop(ctx, &StopRequest{Reusable: reusable}); err != nil {
			t.Fatal(err)
		}
	}
	if got := impl.calls; len(got) != 2 || got[0] != "StopKeeping" || got[1] != "Stop" {
		t.Errorf("calls %v, want [StopKeeping Stop]", got)
	}

	plain := newServerAdapter(&exitingServer{died: make(chan struct{})})
	if _, err := plain.Start(ctx, &StartRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Stop(ctx, &StopRequest{Reusable: true}); err != nil {
		t.Fatalf("a reusable Stop of a server that keeps nothing: %v", err)
	}
}
