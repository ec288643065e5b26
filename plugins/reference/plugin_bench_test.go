package reference_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/core/load"
	"github.com/greetspec/greetspec/plugins/builtin"
)

// TestMain lets the test binary serve as the built-in plugins, so the
// plugin-boundary benchmark launches the reference server the way greetspec
// does (builtin:reference re-executes the binary).
func TestMain(m *testing.M) {
	builtin.ServeIfRequested()
	os.Exit(m.Run())
}

// BenchmarkGreetingPlugin measures one whole exchange with the reference
// server loaded as a plugin (its own process, go-plugin, gRPC over TLS for
// Start and Stop), by name size, with and without the host reading its
// event stream as greetspec run does. Compare with BenchmarkGreeting (the
// same server in the benchmark's process) for the cost of the boundary.
func BenchmarkGreetingPlugin(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	spec, err := host.ParseRef("builtin:reference", self)
	if err != nil {
		b.Fatal(err)
	}
	p, err := host.Launch(spec, host.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	srv, err := p.Server()
	if err != nil {
		b.Fatal(err)
	}
	for _, events := range []bool{false, true} {
		for _, size := range []int{8, contract.MaxNameBytes} {
			b.Run(fmt.Sprintf("events=%v/name=%d", events, size), func(b *testing.B) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				resp, err := srv.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: 10000})
				if err != nil {
					b.Fatal(err)
				}
				defer srv.Stop(context.Background(), &contract.StopRequest{})
				if events {
					stream, err := srv.Events(ctx, &contract.EventsRequest{})
					if err != nil {
						b.Fatal(err)
					}
					go func() {
						for {
							if _, err := stream.Recv(); err != nil {
								return
							}
						}
					}()
				}
				name := []byte(strings.Repeat("n", size))
				b.SetBytes(int64(size))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if class := load.Exchange(resp.GetAddress(), name, 10*time.Second); class != "" {
							b.Errorf("exchange failed: %s", class)
							return
						}
					}
				})
			})
		}
	}
}
