//go:build !unix

package execadapter

import (
	"os"
	"syscall"
)

// sysProcAttr has nothing to add where process groups do not exist.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup can only kill the program itself where process groups do not
// exist; its children may survive.
func signalGroup(p *os.Process, _ syscall.Signal) error {
	err := p.Kill()
	if err == os.ErrProcessDone {
		return nil
	}
	return err
}

// pgrp has no process group to return where they do not exist.
func pgrp() int { return -1 }

// ended reports whether process pid has ended; here the adapter only knows
// once it has waited for it.
func ended(int) bool { return false }
