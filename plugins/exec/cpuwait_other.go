//go:build !linux

package execadapter

import "time"

// groupCPUWait cannot measure a program's wait for a CPU outside Linux: it
// reports none, so a client program is killed ClientKillGrace after its
// timeout, however loaded the machine is.
func groupCPUWait(int) func() time.Duration {
	return func() time.Duration { return 0 }
}
