//go:build !linux

package execadapter

import (
	"errors"
	"os"
)

// openPTY is implemented on Linux only; elsewhere the adapter reads the
// program's output through pipes.
func openPTY() (master, slave *os.File, err error) {
	return nil, nil, errors.New("pseudo-terminals are supported on Linux only")
}
