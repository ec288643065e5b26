package testsupport_test

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/greetspec/greetspec/core/testsupport"
)

func TestMain(m *testing.M) {
	if os.Getenv("TESTSUPPORT_PARALLEL_CHILD") != "" {
		fmt.Println("parallel", testsupport.WaitBoundParallel(7))
		os.Exit(0)
	}
	testsupport.Main(m)
}

// WaitBoundParallel raises the parallel limit, but never over a
// -test.parallel given on the command line.
func TestWaitBoundParallel(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "parallel 7"},
		{[]string{"-test.parallel=3"}, "parallel 3"},
	} {
		cmd := exec.Command(exe, c.args...)
		cmd.Env = append(os.Environ(), "TESTSUPPORT_PARALLEL_CHILD=1")
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("%v: %q (%v), want %q", c.args, out, err, c.want)
		}
	}
}

// A marked child is found while it runs, killed by Kill, and not found
// after; an unmarked one, or one with a marker that only shares a prefix,
// is never found.
func TestMarkerFindsAndKillsMarkedProcesses(t *testing.T) {
	m := testsupport.MustMarker(t, "TESTSUPPORT_TEST_MARKER")
	marked := exec.Command("sleep", "60")
	marked.Env = append(os.Environ(), m.Env())
	other := exec.Command("sleep", "60")
	other.Env = append(os.Environ(), m.Env()+"0")
	for _, c := range []*exec.Cmd{marked, other} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	if got := m.Processes(); !slices.Equal(got, []int{marked.Process.Pid}) {
		t.Fatalf("Processes() = %v, want only the marked child %d (other %d)", got, marked.Process.Pid, other.Process.Pid)
	}
	if got := m.Kill(); !slices.Equal(got, []int{marked.Process.Pid}) {
		t.Errorf("Kill() = %v, want [%d]", got, marked.Process.Pid)
	}
	_ = marked.Wait()
	if got := m.Processes(); len(got) != 0 {
		t.Errorf("after Kill and Wait, Processes() = %v", got)
	}
}

func TestNoRaceExitSleep(t *testing.T) {
	t.Setenv("GORACE", "halt_on_error=1")
	testsupport.NoRaceExitSleep()
	if got := os.Getenv("GORACE"); got != "halt_on_error=1 atexit_sleep_ms=0" {
		t.Errorf("GORACE = %q", got)
	}
	t.Setenv("GORACE", "atexit_sleep_ms=5")
	testsupport.NoRaceExitSleep()
	if got := os.Getenv("GORACE"); got != "atexit_sleep_ms=5" {
		t.Errorf("a set atexit_sleep_ms was changed: GORACE = %q", got)
	}
}
