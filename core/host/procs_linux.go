package host

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// descendants returns the PIDs of every live descendant of pid, found
// through /proc. A wrapper plugin (the exec adapter) puts the program it
// wraps in a process group of its own, so killing the plugin's group alone
// would miss it and its children.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces; the
		// parent PID is the second field after it.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// killTree kills pid's descendants and their process groups, sparing the
// processes and process groups listed in spare and the caller's own group.
func killTree(pid int, spare ...int) {
	skip := map[int]bool{syscall.Getpgrp(): true, pid: true}
	for _, s := range spare {
		skip[s] = true
	}
	for _, d := range descendants(pid) {
		if skip[d] {
			continue
		}
		if pgid, err := syscall.Getpgid(d); err == nil && !skip[pgid] {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
}
