// Package selftest runs the conformance suite against greetspec's own
// faulty and alternative plugins, to prove that every requirement's specs
// can fail, fail for the right reason, and pass correct implementations that
// are built differently.
//
// Each case is a separate `greetspec run` process (RunSpecs runs once per
// process), whose JSON report is turned into per-requirement verdicts.
package selftest

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greetspec/greetspec/plugins/builtin"
	"github.com/greetspec/greetspec/plugins/faulty"
	"github.com/greetspec/greetspec/specs"
)

// Case is one plugin to run the suite against, with what must happen.
type Case struct {
	// Plugin is the plugin reference, for example builtin:faulty/NAME.
	Plugin string
	// Role is server or client: the only role tested.
	Role string
	// Kills lists the requirements whose specs must fail; empty for a
	// correct implementation, which must pass everything.
	Kills []string
	// Summary says what the plugin is.
	Summary string
	// Expect maps each requirement of Kills to a regular expression that
	// the first line of every failure of its specs must match, so that the
	// failure names the fault (see faulty.Fault.Expect).
	Expect map[string]string
}

// Correct reports whether the case is a correct implementation.
func (c Case) Correct() bool { return len(c.Kills) == 0 }

// Cases returns every faulty plugin and every correct built-in plugin
// (the reference and the alternatives), one case per role.
func Cases() []Case {
	var out []Case
	for _, f := range faulty.All() {
		out = append(out, Case{Plugin: "builtin:faulty/" + f.Name, Role: f.Role(), Kills: f.Kills, Summary: f.Summary, Expect: f.Expect})
	}
	for _, e := range builtin.All() {
		if e.Name != "reference" && !strings.HasPrefix(e.Name, "alt/") {
			continue
		}
		for _, role := range []string{"server", "client"} {
			if e.Role == "" || e.Role == role {
				out = append(out, Case{Plugin: "builtin:" + e.Name, Role: role, Summary: e.Summary})
			}
		}
	}
	return out
}

// Result is what one case's run produced.
type Result struct {
	Case     Case
	Verdicts []specs.Verdict
	// Problems lists every way the case did not behave as it must; empty
	// means the case is fine.
	Problems []string
	Duration time.Duration
	// Output is the run's console output, kept for diagnosing problems.
	Output string
}

// Options tune Run.
type Options struct {
	// Exe is the greetspec binary to run ("run" subcommand).
	Exe string
	// Env is added to each run's environment.
	Env []string
	// Parallel is how many runs go at once; default DefaultParallel.
	Parallel int
	// Timeout bounds each run; default 5 minutes.
	Timeout time.Duration
	// ExtraArgs are passed to every run (for example --idle-timeout).
	ExtraArgs []string
	// Progress, if set, is called after each case.
	Progress func(Result)
}

// DefaultParallel is how many runs go at once by default. A run mostly
// waits (designed waits, timeouts of faulty plugins), so many runs share
// two cores well; each run is serial (--procs 1), since lanes cost CPU
// that many runs side by side already put to use (BENCHMARKS.md), except
// the slowest cases (slowCases). More at once measured faster on an idle
// machine but gave false failures on a loaded one.
const DefaultParallel = 16

// Run runs the cases and returns their results in the cases' order.
func Run(ctx context.Context, cases []Case, o Options) []Result {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	results := make([]Result, len(cases))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	// The slow cases start first (they take a slot each from the start);
	// results stay in the cases' order.
	order := make([]int, len(cases))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return lanes(cases[order[a]]) > lanes(cases[order[b]]) })
	for _, i := range order {
		c := cases[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := runCase(ctx, c, o)
			results[i] = r
			if o.Progress != nil {
				mu.Lock()
				o.Progress(r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return results
}

func runCase(ctx context.Context, c Case, o Options) Result {
	start := time.Now()
	r := Result{Case: c}
	dir, err := os.MkdirTemp("", "greetspec-selftest-")
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return r
	}
	defer os.RemoveAll(dir)
	report := filepath.Join(dir, "report.json")

	args := []string{"run", "--procs", strconv.Itoa(lanes(c)), "--" + c.Role, c.Plugin, "--verdict-report", report, "--no-repro", "--label-filter", labelFilter(c)}
	args = append(args, o.ExtraArgs...)
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.Exe, args...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.WaitDelay = 10 * time.Second
	out, runErr := cmd.CombinedOutput()
	r.Output = string(out)
	r.Duration = time.Since(start)
	if ctx.Err() != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("the run did not finish within %v", o.Timeout))
		return r
	}
	// 0 all passed, 1 some failed, 3 passed but not all verified (judged
	// by Check below); anything else is a setup error or an interruption.
	if code := exitCode(runErr); code != 0 && code != 1 && code != 3 {
		r.Problems = append(r.Problems, fmt.Sprintf("the run failed to set up (exit status %d): %s", code, lastLines(r.Output, 5)))
		return r
	}
	verdicts, err := specs.ReadVerdicts(report)
	if err != nil {
		r.Problems = append(r.Problems, "no usable report: "+err.Error())
		return r
	}
	r.Verdicts = verdicts
	r.Problems = append(r.Problems, Check(c, r.Verdicts)...)
	return r
}

// slowCases are the cases whose runs take several times as long as any
// other's, measured (`greetspec selftest` prints each run's time): their
// faults make some exchanges wait out a bound (no-half-close: three specs
// wait the client's timeout, 10 s; never-closes: four wait --wait-timeout
// for a close that never comes). Run serially they alone would set the
// self-test's wall time,
// so they run first, in parallel lanes of their own. Every other case runs
// serially: lanes cost CPU (a greetspec process and plugins each), which
// the cases side by side already put to use. This changes only how soon a
// case's run ends, never its specs or verdicts (lanes give a serial run's
// report).
var slowCases = map[string]int{
	"builtin:faulty/no-half-close": 4,
	"builtin:faulty/never-closes":  4,
	// Each of these waits out a bound in its limit specs: about four times
	// a typical case.
	"builtin:faulty/name-limit-2048":            2,
	"builtin:faulty/reply-limit-2048":           2,
	"builtin:faulty/no-reply-limit":             2,
	"builtin:faulty/waits-for-close-past-limit": 2,
	"builtin:faulty/waits-after-limit":          2,
}

// lanes is how many parallel lanes the case's run uses.
func lanes(c Case) int {
	if n, ok := slowCases[c.Plugin]; ok {
		return n
	}
	return 1
}

// labelFilter selects the case's role: all its MUST specs, plus the specs
// of the requirements the case must kill (which may be SHOULDs). A correct
// implementation runs every spec of its role.
func labelFilter(c Case) string {
	if c.Correct() {
		return c.Role
	}
	return fmt.Sprintf("%s && (must || %s)", c.Role, strings.Join(c.Kills, " || "))
}

// Check returns the problems of a case's verdicts: a killed requirement
// that did not fail, or failed with a first line that does not name the
// fault (Case.Expect), a MUST of the role that failed though it was not to
// be killed, and for correct implementations anything that did not pass.
func Check(c Case, vs []specs.Verdict) []string {
	kills := map[string]bool{}
	for _, id := range c.Kills {
		kills[id] = true
	}
	var problems []string
	for _, v := range vs {
		r := v.Requirement
		if r.Role != c.Role {
			continue
		}
		switch {
		case kills[r.ID] && v.Outcome != specs.OutcomeFail:
			problems = append(problems, fmt.Sprintf("%s must fail against this plugin, but is %s", r.ID, v.Outcome))
		case kills[r.ID]:
			problems = append(problems, unnamedFault(c, v)...)
		case c.Correct() && v.Outcome != specs.OutcomePass:
			problems = append(problems, fmt.Sprintf("%s must pass against a correct implementation, but is %s%s", r.ID, v.Outcome, firstFailure(v)))
		case r.Level == "MUST" && v.Outcome != specs.OutcomePass:
			problems = append(problems, fmt.Sprintf("%s is not violated by this plugin, so it must pass, but is %s%s", r.ID, v.Outcome, firstFailure(v)))
		}
	}
	return problems
}

// unnamedFault returns a problem for each failed spec of a killed
// requirement whose first failure line does not match the case's Expect
// expression for it.
func unnamedFault(c Case, v specs.Verdict) []string {
	pattern, ok := c.Expect[v.Requirement.ID]
	if !ok {
		return nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return []string{fmt.Sprintf("%s: Expect %q: %v", v.Requirement.ID, pattern, err)}
	}
	var problems []string
	for _, s := range v.Specs {
		if s.State == "passed" || s.State == "skipped" {
			continue
		}
		if line := FailureHead(s.Message); !re.MatchString(line) {
			problems = append(problems, fmt.Sprintf("%s fails, but its first failure line does not name the fault (/%s/): %s: %s",
				v.Requirement.ID, pattern, s.Text, line))
		}
	}
	return problems
}

// FailureHead returns the line of a failure message that must name the
// fault: the first, or for a timed-out wait ("Timed out after 2s.") the
// first two, since Gomega puts the wait's description on the second.
func FailureHead(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	head := strings.TrimSpace(lines[0])
	if strings.HasPrefix(head, "Timed out after") && len(lines) > 1 {
		head += " " + strings.TrimSpace(lines[1])
	}
	return head
}

func firstFailure(v specs.Verdict) string {
	for _, s := range v.Specs {
		if s.State != "passed" && s.State != "skipped" {
			return fmt.Sprintf(" (%s: %s)", s.Text, strings.SplitN(strings.TrimSpace(s.Message), "\n", 2)[0])
		}
	}
	return ""
}

// Killers maps each requirement to the faulty plugins whose runs proved
// its specs fail.
func Killers(results []Result) map[string][]string {
	out := map[string][]string{}
	for _, r := range results {
		if r.Case.Correct() {
			continue
		}
		for _, v := range r.Verdicts {
			for _, id := range r.Case.Kills {
				if v.Requirement.ID == id && v.Outcome == specs.OutcomeFail {
					out[id] = append(out[id], strings.TrimPrefix(r.Case.Plugin, "builtin:"))
				}
			}
		}
	}
	return out
}

// Gaps returns the requirements no faulty plugin is declared to kill.
func Gaps(cases []Case) []string {
	declared := map[string]bool{}
	for _, c := range cases {
		for _, id := range c.Kills {
			declared[id] = true
		}
	}
	var gaps []string
	for _, r := range specs.Catalogue() {
		if !declared[r.ID] {
			gaps = append(gaps, r.ID)
		}
	}
	return gaps
}

// WriteReport prints the per-requirement table (which faulty plugins prove
// the specs can fail) and every case with a problem. It returns whether
// everything is fine: no gaps and no problems.
func WriteReport(w io.Writer, cases []Case, results []Result) bool {
	ok := true
	killers := Killers(results)
	fmt.Fprintln(w, "Requirement    Level   Proven to fail by")
	for _, r := range specs.Catalogue() {
		k := killers[r.ID]
		sort.Strings(k)
		proof := strings.Join(k, ", ")
		if proof == "" {
			proof = "GAP: no faulty plugin makes its specs fail"
			ok = false
		}
		fmt.Fprintf(w, "%-14s %-7s %s\n", r.ID, r.Level, proof)
	}
	fmt.Fprintln(w)
	bad := 0
	for _, r := range results {
		kind := "faulty"
		if r.Case.Correct() {
			kind = "correct"
		}
		status := "ok"
		if len(r.Problems) > 0 {
			status = "PROBLEM"
			bad++
			ok = false
		}
		fmt.Fprintf(w, "%-8s %-7s %-7s %-45s %5.1fs\n", status, kind, r.Case.Role, strings.TrimPrefix(r.Case.Plugin, "builtin:"), r.Duration.Seconds())
		for _, p := range r.Problems {
			fmt.Fprintf(w, "           - %s\n", p)
		}
	}
	if gaps := Gaps(cases); len(gaps) > 0 {
		fmt.Fprintf(w, "\nRequirements no faulty plugin declares to kill: %s\n", strings.Join(gaps, ", "))
		ok = false
	}
	fmt.Fprintf(w, "\nSelf-test: %d cases, %d with problems\n", len(results), bad)
	return ok
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
