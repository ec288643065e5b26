// Package testsupport holds what the project's tests share: a process
// marker that finds every process a test started (and that outlived it),
// and a TestMain that fails a package leaving goroutines behind.
//
// It is imported by tests only.
package testsupport

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// Marker tags the processes a test starts: a child started with Env in its
// environment passes it on to everything it starts, so Processes finds them
// all, however they were detached or reparented.
type Marker struct {
	// Name is the environment variable that carries the marker.
	Name string
	// Value is the marker itself, random per Marker.
	Value string
}

// NewMarker returns a fresh, random marker carried by the environment
// variable name. Choose a name the programs in between pass on: the exec
// adapter, for one, removes GREETSPEC_ variables from a wrapped program's
// environment.
func NewMarker(name string) (Marker, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return Marker{}, err
	}
	return Marker{Name: name, Value: hex.EncodeToString(b)}, nil
}

// MustMarker is NewMarker failing t on error.
func MustMarker(t testing.TB, name string) Marker {
	t.Helper()
	m, err := NewMarker(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Env is the NAME=VALUE entry to add to a child's environment.
func (m Marker) Env() string { return m.Name + "=" + m.Value }

// Processes finds the live processes whose environment holds the marker
// (zombies, dead but not yet reaped, are left out).
func (m Marker) Processes() []int {
	needle := []byte(m.Env())
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !hasEntry(env, needle) {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// hasEntry reports whether the NUL-separated environment env holds the
// entry exactly.
func hasEntry(env, entry []byte) bool {
	for _, e := range bytes.Split(env, []byte{0}) {
		if bytes.Equal(e, entry) {
			return true
		}
	}
	return false
}

// Kill sends SIGKILL to every live process carrying the marker and returns
// their PIDs: call it when a test ends, to report and end what outlived it.
func (m Marker) Kill() []int {
	pids := m.Processes()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return pids
}

// Main is a package's TestMain body: it runs the tests and fails the
// package if any goroutine is left behind (go-plugin clients, fake servers,
// event streams), with goleak. Before that it keeps race-built processes
// the tests start from sleeping a second at exit (see NoRaceExitSleep).
func Main(m *testing.M, opts ...goleak.Option) {
	NoRaceExitSleep()
	goleak.VerifyTestMain(m, opts...)
}

// NoRaceExitSleep sets atexit_sleep_ms=0 in GORACE unless it is set
// already, so that race-built processes started from here on (the test
// binary re-executed as a plugin, a greetspec run) do not sleep a second at
// exit, the race runtime's default. Race reports are still printed.
func NoRaceExitSleep() {
	g := os.Getenv("GORACE")
	if strings.Contains(g, "atexit_sleep_ms") {
		return
	}
	_ = os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
}

// WaitBoundParallel lets up to n parallel tests of the package run at once,
// unless -test.parallel was given: call it from TestMain before m.Run. The
// default, GOMAXPROCS (two on a two-core machine), suits tests that use the
// CPU; tests that mostly wait for processes they started (designed waits
// of conformance runs, programs under test) leave the CPU idle at two at a
// time. It returns the limit in force.
func WaitBoundParallel(n int) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
	v, _ := strconv.Atoi(flag.Lookup("test.parallel").Value.String())
	return v
}

// SyncBuffer is a bytes.Buffer safe to write from one goroutine (a child
// process's output copier, go-plugin's log writer) while another reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
