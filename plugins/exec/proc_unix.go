//go:build unix && !linux

package execadapter

import "syscall"

// sysProcAttr puts the program in a process group of its own, so that a
// signal to the group reaches every process it starts. Outside Linux there
// is no parent-death signal: a program outlives an adapter killed by SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// ended reports whether process pid has ended; without /proc the adapter
// only knows once it has waited for it.
func ended(int) bool { return false }
