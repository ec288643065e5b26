//go:build unix

package execadapter

import (
	"errors"
	"os"
	"syscall"
)

// signalGroup sends sig to the process group led by p (the program runs in
// a group of its own, see sysProcAttr). A group that is already gone is not
// an error.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	err := syscall.Kill(-p.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// pgrp is this process's process group.
func pgrp() int { return syscall.Getpgrp() }
