package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/testsupport"
	"github.com/greetspec/greetspec/specs"
)

// specStates reads a JSON report as "full text -> state" for the specs
// that ran or were skipped, in report order.
func specStates(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var reports []struct {
		SpecReports []struct {
			ContainerHierarchyTexts []string
			LeafNodeText            string
			LeafNodeType            string
			State                   string
		}
	}
	if err := json.Unmarshal(data, &reports); err != nil || len(reports) != 1 {
		t.Fatalf("report %s: %v (%d reports)", path, err, len(reports))
	}
	var out []string
	for _, s := range reports[0].SpecReports {
		if s.LeafNodeType != "It" {
			continue
		}
		out = append(out, strings.Join(append(s.ContainerHierarchyTexts, s.LeafNodeText), " / ")+" => "+s.State)
	}
	return out
}

func verdictLines(t *testing.T, path string) []string {
	t.Helper()
	vs, err := specs.ReadVerdicts(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Requirement.ID+" "+string(v.Outcome))
	}
	return out
}

// referenceRun is one run of the whole catalogue against the reference
// plugins, serial or in lanes, that several tests share.
type referenceRun struct {
	result cliResult
	report string
}

var (
	referenceOnce                   sync.Once
	referenceSerial, referenceLanes referenceRun
)

// referenceRuns runs the whole catalogue against the reference plugins
// twice, once per test process: serially (--procs 1), and in three lanes
// race-built (this test binary), where the runner's lanes, the host and the
// specs' harness run concurrently. TestLanesMatchSerial compares them and
// TestRunReferencePasses checks the run in lanes passes.
func referenceRuns(t *testing.T) (serial, lanes referenceRun) {
	t.Helper()
	referenceOnce.Do(func() {
		dir := processDir(t)
		run := func(procs string, exec func(*testing.T, time.Duration, ...string) cliResult) referenceRun {
			report := filepath.Join(dir, "reference-procs-"+procs+".json")
			return referenceRun{exec(t, 5*time.Minute, "run", "--seed", "11", "--no-repro", "--procs", procs, "--json-report", report), report}
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); referenceSerial = run("1", runCLI) }()
		referenceLanes = run("3", runCLIRace)
		wg.Wait()
	})
	return referenceSerial, referenceLanes
}

// A run in lanes gives the serial run's report: the same specs in the same
// order with the same states, the same verdicts, the same console output
// but for the run time; for a correct and for a faulty plugin.
func TestLanesMatchSerial(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite several times")
	}
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"reference", nil, 0},
		{"faulty server", []string{"--server", "builtin:faulty/greeting-capitalised", "--label-filter", "server && (greeting || limits)"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var outs []string
			var reports []string
			for _, procs := range []string{"1", "3"} {
				var r cliResult
				var report string
				if c.args == nil {
					serial, lanes := referenceRuns(t)
					run := map[string]referenceRun{"1": serial, "3": lanes}[procs]
					r, report = run.result, run.report
				} else {
					report = filepath.Join(dir, "report-"+procs+".json")
					r = runCLI(t, 5*time.Minute, append([]string{"run", "--seed", "11", "--no-repro", "--procs", procs, "--json-report", report}, c.args...)...)
				}
				if r.code != c.code {
					t.Fatalf("--procs %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", procs, r.code, c.code, r.stdout, r.stderr)
				}
				outs = append(outs, withoutRunTime(r.stdout))
				reports = append(reports, report)
			}
			if a, b := specStates(t, reports[0]), specStates(t, reports[1]); strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("spec states differ:\nserial:\n%s\nlanes:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
			}
			if a, b := verdictLines(t, reports[0]), verdictLines(t, reports[1]); strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("verdicts differ:\nserial: %v\nlanes:  %v", a, b)
			}
			if c.code == 0 && outs[0] != outs[1] {
				// Failure messages hold ports and timings, so the console
				// output is compared for the passing run only.
				t.Errorf("console output differs:\nserial:\n%s\nlanes:\n%s", outs[0], outs[1])
			}
		})
	}
}

// withoutRunTime blanks the "in N seconds" of Ginkgo's summary line.
func withoutRunTime(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, " Specs in "); i >= 0 {
			line = line[:i]
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// ran drops the specs the label filter skipped (every run lists them).
func ran(states []string) []string {
	var out []string
	for _, s := range states {
		if !strings.HasSuffix(s, "=> skipped") {
			out = append(out, s)
		}
	}
	return out
}

// A lane that dies is reported, the run fails, and nothing it started
// outlives the run (finishCLI checks). Lane 1 is found by its environment:
// this run's process marker and GREETSPEC_LANE=1, so no other run's lane is
// touched.
func TestLaneDeathIsReported(t *testing.T) {
	t.Parallel()
	cmd, marker, stdout, stderr := startCLI(t, selfExe(t), "run", "--procs", "2", "--label-filter", "SRV-GREET-2 || SRV-NAME-3", "--no-repro")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed := false
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(3 * time.Minute)
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick.C:
			if !killed {
				for _, pid := range lanePIDs(marker, "GREETSPEC_LANE=1") {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					killed = true
				}
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			marker.Kill()
			t.Fatalf("greetspec did not finish within 3m\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}
	r := finishCLI(t, err, marker, stdout, stderr)
	if !killed {
		t.Fatal("no lane was seen to kill")
	}
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1 (a lane died)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "lane 1 died") {
		t.Errorf("stderr does not report the dead lane:\n%s", r.stderr)
	}
}

// lanePIDs finds the lane processes of the run carrying marker whose
// environment holds env.
func lanePIDs(marker testsupport.Marker, env string) []int {
	var out []int
	for _, pid := range marker.Processes() {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err == nil && bytes.Contains(data, []byte("\x00"+env+"\x00")) {
			out = append(out, pid)
		}
	}
	return out
}

func TestExplainWaits(t *testing.T) {
	t.Parallel()
	r := runCLI(t, time.Minute, "run", "--explain-waits", "--idle-timeout", "400ms", "--gap", "20ms")
	if r.code != 0 {
		t.Fatalf("exit status %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"T=400ms, gap=20ms", "SRV-IDLE-1", "400ms", "Floor of a serial run"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--explain-waits output lacks %q:\n%s", want, r.stdout)
		}
	}
}
