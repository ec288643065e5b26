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
// process pid, and with group by every process of its process group too (a
// plugin runs in a group of its own, with the program it wraps). It returns
// -1 where /proc cannot say (not Linux, the process gone).
func processCPU(pid int, group bool) time.Duration {
	if pid <= 0 {
		return -1
	}
	if !group {
		_, cpu, ok := readStat(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if !ok {
			return -1
		}
		return cpu
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return -1
	}
	var total time.Duration
	found := false
	for _, f := range stats {
		if pgrp, cpu, ok := readStat(f); ok && pgrp == pid {
			total += cpu
			found = true
		}
	}
	if !found {
		return -1
	}
	return total
}

// readStat reads a /proc/PID/stat file's process group and CPU time.
func readStat(path string) (pgrp int, cpu time.Duration, ok bool) {
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
	pgrp, err1 := strconv.Atoi(f[2])
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return pgrp, time.Duration(ut+st) * clockTick, true
}
