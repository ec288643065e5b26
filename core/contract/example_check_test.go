package contract_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// TestExamplesExchange runs the documentation examples against each other,
// so that the code the package doc shows stays a working exchange.
func TestExamplesExchange(t *testing.T) {
	srv := &exampleServer{}
	events := make(chan *contract.ConnectionEvent, 4)
	resp, err := srv.Start(context.Background(), &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: 2000},
		func(ev *contract.ConnectionEvent) { events <- ev })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())

	got, err := exampleClient{}.Greet(context.Background(), &contract.GreetRequest{Address: resp.GetAddress(), Name: "Zoë", TimeoutMs: 5000})
	if err != nil || string(got.GetReply()) != contract.Greeting || got.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_NONE {
		t.Fatalf("Greet = %v, %v; want the greeting", got, err)
	}
	select {
	case ev := <-events:
		if ev.GetName() != "Zoë" || ev.GetNameEnd() != contract.NameEnd_NAME_END_EOF || string(ev.GetReply()) != contract.Greeting {
			t.Errorf("event = %v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}

	long, err := exampleClient{}.Greet(context.Background(), &contract.GreetRequest{Address: resp.GetAddress(), Name: string(make([]byte, 1025))})
	if err != nil || long.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG {
		t.Errorf("a 1025-byte name: %v, %v; want NAME_TOO_LONG", long, err)
	}

	// An empty name, half-closed at once, is greeted and closed with FIN.
	conn, err := net.Dial("tcp", resp.GetAddress())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	if err != nil || string(b) != contract.Greeting {
		t.Errorf("empty name: got %q, %v", b, err)
	}
}
