package execadapter

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// sysProcAttr puts the program in a process group of its own, so that a
// signal to the group reaches every process it starts, and asks the kernel
// to kill it when the adapter dies, even by SIGKILL. Pdeathsig fires when
// the OS thread that started the program exits; Go ends threads only behind
// goroutines that lock them, which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// ended reports whether process pid, a child of the adapter, has ended:
// it is a zombie not yet waited for, or already reaped. Stop asks this
// before it signals the program, so that an exit the program made on its
// own just before is reported as its own, even when the goroutine that
// waits for it has not seen it yet.
func ended(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}
