package reference

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/greetspec/greetspec/core/contract"
)

// BenchmarkGreeting measures one whole exchange with the reference server
// over loopback: connect, send a name, half-close, read the greeting to EOF.
func BenchmarkGreeting(b *testing.B) {
	s := &Server{}
	resp, err := s.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0"}, func(*contract.ConnectionEvent) {})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop(context.Background())
	name := []byte("benchmark")
	b.ResetTimer()
	for b.Loop() {
		conn, err := net.Dial("tcp", resp.GetAddress())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Write(name); err != nil {
			b.Fatal(err)
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		reply, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || string(reply) != contract.Greeting {
			b.Fatalf("reply %q, %v", reply, err)
		}
	}
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
