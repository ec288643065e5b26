package execadapter

import "syscall"

// sysProcAttr puts the program in a process group of its own, so that a
// signal to the group reaches every process it starts, and asks the kernel
// to kill it when the adapter dies, even by SIGKILL. Pdeathsig fires when
// the OS thread that started the program exits; Go ends threads only behind
// goroutines that lock them, which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
