//go:build unix

package wire

import (
	"errors"
	"syscall"
)

// peek looks at the unread bytes waiting on the socket without consuming
// them or waiting. state is EndEOF when the peer ended its stream and no
// byte waits, EndReset when a reset is pending, EndNone when the connection
// is open (or when bytes wait, which hide what follows them), and EndError
// when the socket cannot be looked at.
func (c *Conn) peek() (unread []byte, state End) {
	rc, err := c.tcp.SyscallConn()
	if err != nil {
		return nil, EndError
	}
	buf := make([]byte, readBufSize)
	var n int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait
	}); err != nil {
		return nil, EndError
	}
	switch {
	case rerr == nil && n > 0:
		return buf[:n], EndNone
	case rerr == nil:
		return nil, EndEOF
	case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EWOULDBLOCK):
		return nil, EndNone
	case errors.Is(rerr, syscall.ECONNRESET):
		return nil, EndReset
	}
	return nil, EndError
}
