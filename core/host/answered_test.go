package host

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A call the plugin answered with its own error needs no wait for an exit;
// one the transport failed (the plugin gone or silent) does.
func TestAnswered(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.Unknown, "exec server: the server program exited with status 1"), true},
		{status.Error(codes.FailedPrecondition, "server already started"), true},
		{status.Error(codes.Aborted, "the program exited"), true},
		{status.Error(codes.Unavailable, "error reading from server: EOF"), false},
		{status.Error(codes.Canceled, "grpc: the client connection is closing"), false},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), false},
		{context.DeadlineExceeded, false},
		{errors.New("plugin exited"), false},
	} {
		if got := answered(c.err); got != c.want {
			t.Errorf("answered(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
