package reference

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/load"
)

// benchNames are the name sizes the throughput benchmarks greet with: a
// short name and the longest the protocol allows.
var benchNames = []int{8, contract.MaxNameBytes}

// BenchmarkGreeting measures one whole exchange with the reference server
// in the benchmark's process over loopback (connect, send a name,
// half-close, read the greeting to EOF), next to the raw goroutine-per-
// connection baseline, by name size. Both write their log line, to a
// discarding writer here (a plugin's goes to a pipe: see
// BenchmarkGreetingPlugin and `greetspec bench`).
func BenchmarkGreeting(b *testing.B) {
	discard := log.New(io.Discard, "", 0)
	for _, size := range benchNames {
		name := []byte(strings.Repeat("n", size))
		b.Run(fmt.Sprintf("server=reference/name=%d", size), func(b *testing.B) {
			s := &Server{Log: discard}
			resp, err := s.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0"}, func(*contract.ConnectionEvent) {})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Stop(context.Background())
			greetLoop(b, resp.GetAddress(), name)
		})
		b.Run(fmt.Sprintf("server=raw/name=%d", size), func(b *testing.B) {
			s, err := load.StartRaw("127.0.0.1:0", DefaultIdleTimeout, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			greetLoop(b, s.Addr(), name)
		})
	}
}

// greetLoop greets addr b.N times from as many goroutines as
// -test.cpu/SetParallelism give (one per GOMAXPROCS by default), with
// greetspec's load generator's exchange, and fails on any failed exchange.
func greetLoop(b *testing.B, addr string, name []byte) {
	b.Helper()
	b.SetBytes(int64(len(name)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if class := load.Exchange(addr, name, 10*time.Second); class != "" {
				b.Errorf("exchange failed: %s", class)
				return
			}
		}
	})
}

// BenchmarkDecodeUTF8 measures decoding a 1024-byte name with invalid bytes.
func BenchmarkDecodeUTF8(b *testing.B) {
	name := make([]byte, contract.MaxNameBytes)
	for i := range name {
		name[i] = "aé\xe2\x82\xff"[i%6]
	}
	b.SetBytes(int64(len(name)))
	for b.Loop() {
		_ = contract.DecodeUTF8(name)
	}
}
