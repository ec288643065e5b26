package wire

import (
	"errors"

	"golang.org/x/sys/unix"
)

// peek looks at the socket without consuming anything or waiting: unread is
// the bytes waiting to be read, state is EndEOF when the peer has ended its
// stream (FIN received, whether or not bytes still wait before it),
// EndReset when the connection was reset, EndNone when the peer's side is
// open, and EndError when the socket cannot be looked at.
func (c *Conn) peek() (unread []byte, state End) {
	rc, err := c.tcp.SyscallConn()
	if err != nil {
		return nil, EndError
	}
	buf := make([]byte, readBufSize)
	n, state := 0, EndError
	if err := rc.Control(func(fd uintptr) {
		var rerr error
		n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if rerr != nil {
			n = 0
		}
		info, ierr := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		switch {
		case ierr != nil:
		case info.State == tcpCloseWait || info.State == tcpLastAck || info.State == tcpClosing || info.State == tcpTimeWait:
			state = EndEOF
		case info.State == tcpClose:
			state = EndReset
		case errors.Is(rerr, unix.ECONNRESET):
			state = EndReset
		default:
			state = EndNone
		}
	}); err != nil {
		return nil, EndError
	}
	return buf[:n], state
}

// TCP states of Linux's tcp_states.h.
const (
	tcpTimeWait  = 6
	tcpClose     = 7
	tcpCloseWait = 8
	tcpLastAck   = 9
	tcpClosing   = 11
)
