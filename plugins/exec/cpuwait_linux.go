//go:build linux

package execadapter

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// groupCPUWait returns a reader of the time the process group pgid (a
// client program and every process it started) has spent waiting for a
// CPU: the sum over its processes of the second field of
// /proc/PID/schedstat (run-queue wait of the process's main thread, in
// ns). A process that has exited keeps the last value read of it, so the
// sum never goes down. The processes are found by their process group,
// which a program's children inherit.
func groupCPUWait(pgid int) func() time.Duration {
	seen := map[int]time.Duration{}
	return func() time.Duration {
		entries, err := os.ReadDir("/proc")
		if err == nil {
			for _, e := range entries {
				pid, err := strconv.Atoi(e.Name())
				if err != nil || pid <= 0 {
					continue
				}
				if procGroup(pid) != pgid {
					continue
				}
				if w, ok := procRunWait(pid); ok && w > seen[pid] {
					seen[pid] = w
				}
			}
		}
		var sum time.Duration
		for _, w := range seen {
			sum += w
		}
		return sum
	}
}

// procGroup is the process group of pid (field 5 of /proc/PID/stat), or -1.
func procGroup(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses: the fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := bytes.Fields(b[i+1:]) // state, ppid, pgrp, ...
	if len(f) < 3 {
		return -1
	}
	g, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return -1
	}
	return g
}

// procRunWait is the run-queue wait of pid's main thread so far.
func procRunWait(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/schedstat")
	if err != nil {
		return 0, false
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, false
	}
	ns, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil || ns < 0 {
		return 0, false
	}
	return time.Duration(ns), true
}
