package execadapter

import (
	"context"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// BenchmarkServerKeptCycle measures what a spec costs a kept server
// program beyond its own exchanges: StopKeeping after one greeting (the
// wait for the program to have logged and closed everything), then the
// next Start's fence connection and the wait for its log line. The
// stop-keep and fence halves are reported apart (µs/op each).
func BenchmarkServerKeptCycle(b *testing.B) {
	py := python(b)
	s, err := newServer(ServerConfig{Command: py + " testdata/server.py --host {host} --port {port} --format colon", ReadyTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	var ev events
	resp, err := s.Start(ctx, &contract.StartRequest{}, ev.report)
	if err != nil {
		b.Fatal(err)
	}
	addr := resp.GetAddress()
	var keep, fence time.Duration
	b.ResetTimer()
	for range b.N {
		if reply, _ := greet(b, addr, "Bob"); reply != contract.Greeting {
			b.Fatalf("reply %q", reply)
		}
		t0 := time.Now()
		if err := s.StopKeeping(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.Start(ctx, &contract.StartRequest{}, ev.report); err != nil {
			b.Fatal(err)
		}
		keep += t1.Sub(t0)
		fence += time.Since(t1)
	}
	b.ReportMetric(float64(keep.Microseconds())/float64(b.N), "keep-µs/op")
	b.ReportMetric(float64(fence.Microseconds())/float64(b.N), "fence-µs/op")
}
