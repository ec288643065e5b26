//go:build unix

package host

import (
	"fmt"
	"syscall"
)

// checkAlive reports an error unless a process with pid exists.
func checkAlive(pid int) error {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return fmt.Errorf("no process %d: %v (is the plugin still running?)", pid, err)
	}
	return nil
}
