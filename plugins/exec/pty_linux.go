//go:build linux

package execadapter

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal in raw mode and returns its master (read
// by the adapter) and its slave (given to the program as stdout or
// stderr). Raw mode means no "\n" -> "\r\n" translation, no echo and no
// line editing: the master reads exactly the bytes the program wrote. A
// program whose output is a terminal line-buffers it (C stdio, Perl, Ruby,
// Python), so every log line arrives when it is written.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fail := func(what string, err error) (*os.File, *os.File, error) {
		_ = master.Close()
		if slave != nil {
			_ = slave.Close()
		}
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	raw, err := master.SyscallConn()
	if err != nil {
		return fail("pty master", err)
	}
	var n int
	var ioErr error
	if err := raw.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioErr != nil {
			return
		}
		n, ioErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
	}); err != nil {
		return fail("pty master", err)
	}
	if ioErr != nil {
		return fail("unlocking the pty", ioErr)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fail("pty slave", err)
	}
	sraw, err := slave.SyscallConn()
	if err != nil {
		return fail("pty slave", err)
	}
	if err := sraw.Control(func(fd uintptr) {
		var t *unix.Termios
		if t, ioErr = unix.IoctlGetTermios(int(fd), unix.TCGETS); ioErr != nil {
			return
		}
		makeRaw(t)
		ioErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	}); err != nil {
		return fail("pty slave", err)
	}
	if ioErr != nil {
		return fail("setting the pty to raw mode", ioErr)
	}
	return master, slave, nil
}

// makeRaw does what cfmakeraw(3) does.
func makeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}
