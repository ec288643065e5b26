package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// processCPU returns the CPU time (user and system) used so far by the
// process pid, and with tree by its descendants too (a plugin wrapping a
// program, which may run in a process group of its own). It returns -1
// where /proc cannot say (not Linux, the process gone). A descendant that
// has exited is not counted.
func processCPU(pid int, tree bool) time.Duration {
	if pid <= 0 {
		return -1
	}
	if !tree {
		_, cpu, ok := readStat(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if !ok {
			return -1
		}
		return cpu
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return -1
	}
	parent := map[int]int{}
	cpu := map[int]time.Duration{}
	for _, f := range stats {
		p, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err != nil {
			continue
		}
		if ppid, c, ok := readStat(f); ok {
			parent[p], cpu[p] = ppid, c
		}
	}
	if _, ok := cpu[pid]; !ok {
		return -1
	}
	var total time.Duration
	for p, c := range cpu {
		for q, hops := p, 0; q > 0 && hops < 64; q, hops = parent[q], hops+1 {
			if q == pid {
				total += c
				break
			}
		}
	}
	return total
}

// readStat reads a /proc/PID/stat file's parent process and CPU time.
func readStat(path string) (ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// the last ')'. After it: state ppid pgrp ... utime (12th) stime (13th).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return ppid, time.Duration(ut+st) * clockTick, true
}
