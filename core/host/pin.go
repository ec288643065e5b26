package host

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Checksum pinning: a plugin reference can be pinned to the SHA-256 of the
// file that holds its code, and Launch refuses to start it if that file
// differs. go-plugin's own SecureConfig would hash only the executable
// (Cmd.Path): for a plugin started as "python3 plugin.py" that is the
// interpreter, not the plugin; and with the process runner greetspec gives
// go-plugin (RunnerFunc) it has no path to hash at all. So greetspec checks
// pins itself: a pin is compared with the executable and, when the first
// argument names a regular file, that file (the script an interpreter
// runs); it must match one of them, and the matching file is hashed again
// just before the process starts, as SecureConfig would. A builtin:
// reference is the greetspec executable itself.

var pins struct {
	mu   sync.Mutex
	sums map[string][]byte
}

// PinSHA256 pins the plugin reference ref (as given to ParseRef, which is
// the launched Spec's Name) to the SHA-256 sum written in hex. An empty sum
// removes the pin. It fails on a sum that is not 64 hex digits.
func PinSHA256(ref, sum string) error {
	pins.mu.Lock()
	defer pins.mu.Unlock()
	ref = strings.TrimSpace(ref)
	if sum == "" {
		delete(pins.sums, ref)
		return nil
	}
	b, err := hex.DecodeString(strings.TrimSpace(sum))
	if err != nil || len(b) != sha256.Size {
		return fmt.Errorf("%q is not a SHA-256 sum (64 hexadecimal digits)", sum)
	}
	if pins.sums == nil {
		pins.sums = map[string][]byte{}
	}
	pins.sums[ref] = b
	return nil
}

// ErrChecksum is the error Launch returns, wrapped, when a pinned plugin's
// file does not have the pinned checksum.
var ErrChecksum = errors.New("checksum mismatch")

// pin is a checked pin: the file that matched it and the sum.
type pin struct {
	path string
	sum  []byte
}

// recheck hashes the pinned file again; a nil pin always passes.
func (p *pin) recheck() error {
	if p == nil {
		return nil
	}
	got, err := fileSHA256(p.path)
	if err != nil {
		return fmt.Errorf("%w: cannot read %s to check its checksum: %v", ErrChecksum, p.path, err)
	}
	if !bytes.Equal(got, p.sum) {
		return fmt.Errorf("%w: %s changed before the start: it has SHA-256 %x, the pinned one is %x; refusing to start it", ErrChecksum, p.path, got, p.sum)
	}
	return nil
}

// checkPin checks spec against its pin, if any, and returns the file that
// matched it (nil when unpinned).
func checkPin(spec Spec) (*pin, error) {
	pins.mu.Lock()
	want, ok := pins.sums[strings.TrimSpace(spec.Name)]
	pins.mu.Unlock()
	if !ok {
		return nil, nil
	}
	exeSum, err := fileSHA256(spec.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read %s to check its checksum: %v", ErrChecksum, spec.Path, err)
	}
	if bytes.Equal(exeSum, want) {
		return &pin{path: spec.Path, sum: want}, nil
	}
	got := fmt.Sprintf("executable %s has %x", spec.Path, exeSum)
	if len(spec.Args) > 0 {
		if fi, err := os.Stat(spec.Args[0]); err == nil && fi.Mode().IsRegular() {
			scriptSum, err := fileSHA256(spec.Args[0])
			if err == nil && bytes.Equal(scriptSum, want) {
				return &pin{path: spec.Args[0], sum: want}, nil
			}
			if err == nil {
				got += fmt.Sprintf(", script %s has %x", spec.Args[0], scriptSum)
			}
		}
	}
	return nil, fmt.Errorf("%w: the pinned SHA-256 is %x but %s; refusing to start it", ErrChecksum, want, got)
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
