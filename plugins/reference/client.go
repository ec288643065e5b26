package reference

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// DefaultClientTimeout bounds an exchange when the host passes no timeout.
const DefaultClientTimeout = 10 * time.Second

// Client is the reference client: it sends the name's UTF-8 bytes,
// half-closes, and reads the reply until the server closes or 1024 bytes.
type Client struct{}

// Describe names the implementation.
func (Client) Describe() *contract.DescribeResponse {
	return &contract.DescribeResponse{Name: "greetspec reference client"}
}

// Greet runs one exchange with the server at req's address.
func (Client) Greet(ctx context.Context, req *contract.GreetRequest) (*contract.GreetResponse, error) {
	name := []byte(req.GetName()) // Go strings from protobuf are UTF-8 already (CLI-SEND-1)
	if len(name) > contract.MaxNameBytes {
		return failure(contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG, "name is longer than 1024 bytes; nothing sent", nil), nil
	}
	timeout := time.Duration(req.GetTimeoutMs()) * time.Millisecond
	if timeout <= 0 {
		timeout = DefaultClientTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", req.GetAddress())
	if err != nil {
		return failure(classify(err), err.Error(), nil), nil
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)

	if _, err := conn.Write(name); err != nil {
		return failure(classify(err), err.Error(), nil), nil
	}
	// End of stream marks the end of the name (CLI-SEND-2).
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return failure(classify(err), err.Error(), nil), nil
	}
	reply, err := io.ReadAll(io.LimitReader(conn, contract.MaxNameBytes))
	if err != nil {
		return failure(classify(err), err.Error(), reply), nil
	}
	if len(reply) == 0 {
		return failure(contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY, "server closed without a reply", nil), nil
	}
	return &contract.GreetResponse{Reply: reply, Shown: contract.DecodeUTF8(reply)}, nil
}

func failure(class contract.ErrorClass, msg string, reply []byte) *contract.GreetResponse {
	return &contract.GreetResponse{Reply: reply, Shown: contract.DecodeUTF8(reply), ErrorClass: class, Error: msg}
}

func classify(err error) contract.ErrorClass {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return contract.ErrorClass_ERROR_CLASS_REFUSED
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return contract.ErrorClass_ERROR_CLASS_RESET
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return contract.ErrorClass_ERROR_CLASS_TIMEOUT
	default:
		return contract.ErrorClass_ERROR_CLASS_OTHER
	}
}
