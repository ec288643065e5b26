package host

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ContainEnv names the environment variable that marks every process a
// greetspec run starts. Its value is a comma-separated list of containment
// tokens: the run's own (set by Contain) and one per plugin launch (set by
// Launch). Plugins, the programs the exec adapter wraps, and whatever those
// start inherit it, so a process carrying a token can be found in /proc and
// killed even after it has left the process tree (a double-forked daemon) or
// after greetspec itself has died. A program that clears its environment
// escapes this mark; while greetspec lives, the child subreaper (see
// Contain) still keeps it in greetspec's process tree.
const ContainEnv = "GREETSPEC_CONTAIN"

// newToken returns a fresh random containment token with a prefix.
func newToken(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on Linux; a time-based token still
		// tells runs apart.
		return prefix + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return prefix + hex.EncodeToString(b[:])
}

// withToken returns env with token added to the ContainEnv list (the last
// ContainEnv entry of env wins, as in exec.Cmd).
func withToken(env []string, token string) []string {
	cur := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, ContainEnv+"="); ok {
			cur = v
		}
	}
	if cur != "" {
		cur += ","
	}
	return append(env, ContainEnv+"="+cur+token)
}

// carriesToken reports whether the process pid was started with token in its
// ContainEnv list. Zombies and processes of other users read as not
// carrying it.
func carriesToken(pid int, token string) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	prefix := []byte(ContainEnv + "=")
	for _, kv := range bytes.Split(data, []byte{0}) {
		v, ok := bytes.CutPrefix(kv, prefix)
		if !ok {
			continue
		}
		for _, t := range bytes.Split(v, []byte{','}) {
			if string(t) == token {
				return true
			}
		}
	}
	return false
}

// tagged returns the PIDs of the live processes carrying token, except the
// calling process.
func tagged(token string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if carriesToken(pid, token) {
			out = append(out, pid)
		}
	}
	return out
}

// killTagged kills every process carrying token, over and over until a scan
// finds none (a process may fork between a scan and its kill) or the bound
// passes. It returns every PID it killed.
func killTagged(token string, bound time.Duration) []int {
	if token == "" {
		return nil
	}
	var killed []int
	deadline := time.Now().Add(bound)
	for {
		pids := tagged(token)
		if len(pids) == 0 {
			return killed
		}
		for _, pid := range pids {
			// Stop first, so that it cannot fork while its siblings die.
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		killed = append(killed, pids...)
		if time.Now().After(deadline) {
			return killed
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reapOrphans collects the exit status of killed processes that were
// re-parented to this process (it is a child subreaper), so they do not
// stay zombies until greetspec exits. skip is a process some exec.Cmd waits
// for; it is left alone.
func reapOrphans(pids []int, skip int) {
	self := os.Getpid()
	deadline := time.Now().Add(time.Second)
	for _, pid := range pids {
		if pid == skip || parentOf(pid) != self {
			continue
		}
		for {
			var ws syscall.WaitStatus
			got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			if got == pid || err != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// parentOf returns pid's parent PID, or 0 if it cannot be read.
func parentOf(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}
