package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/greetspec/greetspec/specs"
	"github.com/spf13/cobra"
)

// flakeOptions are the flags of `greetspec run` that hunt flaky failures.
type flakeOptions struct {
	repeat      int
	untilFails  bool
	rerunFailed string
}

func (f *flakeOptions) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.repeat, "repeat", 1, "run the selection this many times (each run in a process of its own) and report the first failing iteration")
	fl.BoolVar(&f.untilFails, "until-it-fails", false, "repeat the selection until a run fails, at most --repeat times (default 100 with this flag)")
	fl.StringVar(&f.rerunFailed, "rerun-failed", "", "run again only the requirements that failed in this earlier JSON report (--json-report)")
}

// failedFilter returns a label filter selecting the requirements that
// failed in the report at path.
func failedFilter(path string) (string, error) {
	vs, err := specs.ReadVerdicts(path)
	if err != nil {
		return "", err
	}
	var ids []string
	for _, v := range vs {
		if v.Outcome == specs.OutcomeFail {
			ids = append(ids, v.Requirement.ID)
		}
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("%s records no failed requirement: nothing to run again", path)
	}
	return strings.Join(ids, " || "), nil
}

// repeatArgs returns args without the flake-hunting flags, for the child
// runs.
func repeatArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "--") || a == "--" {
			out = append(out, a)
			continue
		}
		switch name {
		case "repeat", "json-report":
			if !hasValue {
				i++ // its value
			}
			continue
		case "until-it-fails":
			continue
		}
		out = append(out, a)
	}
	return out
}

// runRepeated runs the selection up to n times, each in a child greetspec,
// and reports the first failing iteration with its failures and transcripts.
func runRepeated(w io.Writer, args []string, n int, untilFails bool) error {
	self, err := os.Executable()
	if err != nil {
		return usageErr("cannot find greetspec's own executable: %v", err)
	}
	dir, err := os.MkdirTemp("", "greetspec-repeat-")
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer os.RemoveAll(dir)
	child := repeatArgs(args)
	failures := 0
	for i := 1; i <= n; i++ {
		report := filepath.Join(dir, fmt.Sprintf("run-%d.json", i))
		cmd := exec.Command(self, append(append([]string{"run"}, child...), "--no-repro", "--json-report", report)...)
		cmd.Env = os.Environ()
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		runErr := cmd.Run()
		code := 0
		if ee, ok := runErr.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if runErr != nil {
			return &exitError{code: 2, err: runErr}
		}
		if code == 2 || code == 4 {
			return &exitError{code: code, err: fmt.Errorf("iteration %d ended with exit status %d (setup error or interrupted); stopped", i, code)}
		}
		vs, err := specs.ReadVerdicts(report)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("iteration %d: %v", i, err)}
		}
		failed := failedOf(vs)
		fmt.Fprintf(w, "iteration %d/%d: exit %d%s\n", i, n, code, listIfAny(" failed: ", failed))
		if len(failed) == 0 {
			continue
		}
		failures++
		if failures == 1 {
			fmt.Fprintf(w, "\nFirst failing iteration: %d\n", i)
			specs.WriteVerdicts(w, onlyFailed(vs))
			for _, v := range vs {
				shown := 0
				for _, s := range v.Specs {
					if len(s.Transcripts) == 0 || shown == 3 { // the verdict shows three failures per requirement
						continue
					}
					shown++
					for _, tr := range s.Transcripts {
						fmt.Fprintf(w, "\n%s: %s\n%s\n", v.Requirement.ID, s.Text, tr)
					}
				}
			}
		}
		if untilFails {
			return &exitError{code: 1}
		}
	}
	fmt.Fprintf(w, "\n%d of %d iterations failed\n", failures, n)
	if failures > 0 {
		return &exitError{code: 1}
	}
	return nil
}

func failedOf(vs []specs.Verdict) []string {
	var ids []string
	for _, v := range vs {
		if v.Outcome == specs.OutcomeFail {
			ids = append(ids, v.Requirement.ID)
		}
	}
	return ids
}

func onlyFailed(vs []specs.Verdict) []specs.Verdict {
	var out []specs.Verdict
	for _, v := range vs {
		if v.Outcome == specs.OutcomeFail {
			out = append(out, v)
		}
	}
	return out
}

func listIfAny(prefix string, ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return prefix + strings.Join(ids, ", ")
}

// withoutFlag removes --name (and its value) from args.
func withoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--"+name {
			i++
			continue
		}
		if strings.HasPrefix(a, "--"+name+"=") {
			continue
		}
		out = append(out, a)
	}
	return out
}
