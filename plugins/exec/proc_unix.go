//go:build unix && !linux

package execadapter

import "syscall"

// sysProcAttr puts the program in a process group of its own, so that a
// signal to the group reaches every process it starts. Outside Linux there
// is no parent-death signal: a program outlives an adapter killed by SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
