package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/greetspec/greetspec/specs/selftest"
	"github.com/spf13/cobra"
)

func newSelftestCmd() *cobra.Command {
	var parallel int
	var timeout time.Duration
	var quiet bool
	cmd := &cobra.Command{
		Use:   "selftest [-- run flags]",
		Short: "Prove every spec can fail: run the suite against the faulty and alternative plugins",
		Long: `Run the conformance suite against every built-in faulty plugin and every
correct built-in plugin (the reference and the alternatives), each in its own
'greetspec run' process, and check that:
  - the specs of each requirement a faulty plugin violates fail against it;
  - every MUST requirement it does not violate still passes (a fault is
    reported precisely, not as a cascade);
  - correct implementations pass every requirement of their role;
  - every requirement is violated by at least one faulty plugin.

It prints, per requirement, the faulty plugins that prove its specs can fail.
Flags after '--' are passed to each run (e.g. -- --idle-timeout 2s).
Exit status: 0 all checks hold, 1 some do not, 2 setup error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkRange("--parallel", parallel, 1, 64); err != nil {
				return err
			}
			if timeout <= 0 {
				return usageErr("--run-timeout must be positive, got %v", timeout)
			}
			exe, err := os.Executable()
			if err != nil {
				return usageErr("cannot find greetspec's own executable: %v", err)
			}
			out := cmd.OutOrStdout()
			cases := selftest.Cases()
			fmt.Fprintf(out, "greetspec selftest: %d plugins, %d at a time\n", len(cases), parallel)
			results := selftest.Run(context.Background(), cases, selftest.Options{
				Exe: exe, Parallel: parallel, Timeout: timeout, ExtraArgs: args,
				Progress: func(r selftest.Result) {
					if !quiet {
						status := "ok"
						if len(r.Problems) > 0 {
							status = "PROBLEM"
						}
						fmt.Fprintf(out, "  %-7s %s (%s) %.1fs\n", status, r.Case.Plugin, r.Case.Role, r.Duration.Seconds())
					}
				},
			})
			fmt.Fprintln(out)
			if !selftest.WriteReport(out, cases, results) {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&parallel, "parallel", selftest.DefaultParallel, "how many suite runs go at once")
	cmd.Flags().DurationVar(&timeout, "run-timeout", 5*time.Minute, "bound on each suite run")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not print each run as it finishes")
	return cmd
}
