package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/greetspec/greetspec/specs"
	"github.com/greetspec/greetspec/specs/report"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"
)

func newMergeCmd() *cobra.Command {
	var jsonOut, htmlOut string
	cmd := &cobra.Command{
		Use:   "merge REPORT.json...",
		Short: "Combine the JSON reports of sharded runs into one verdict",
		Long: `Combine the JSON reports (--json-report) of runs that each ran a shard of
the specs (greetspec run --shard i/n) into one verdict per requirement, as if
one run had run them all. A spec that one shard ran and another skipped
counts as run (a spec BLOCKED in one shard and run in another counts as
run). The closing line and exit status are the combined run's: 0 every
selected requirement verified and passed, 1 some failed or is BLOCKED (the
implementation under test died; the cause is stated once), 2 usage
error or nothing selected, 3 some requirement only partly verified (a shard
missing, or not observable).`,
		Example: `  greetspec run --shard 1/3 --json-report part1.json   # in three CI jobs
  greetspec merge part1.json part2.json part3.json --report-html run.html`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			merged, err := mergeReports(args)
			if err != nil {
				return usageErr("%v", err)
			}
			out := cmd.OutOrStdout()
			info := specs.InfoFromReport(merged)
			vs := specs.Judge(merged, info)
			// A death seen by several shards is one cause.
			specs.WriteCauses(out, specs.Causes(vs))
			specs.WriteVerdicts(out, vs)
			code, conclusion := conclude(vs, info, false)
			if jsonOut != "" {
				b, err := json.MarshalIndent([]types.Report{merged}, "", "  ")
				if err == nil {
					err = os.WriteFile(jsonOut, b, 0o644)
				}
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--json-report: %w", err)}
				}
			}
			if htmlOut != "" {
				run := report.Run{Title: "greetspec conformance (merged from " + fmt.Sprint(len(args)) + " reports)", Verdicts: vs,
					Tested: map[string]string{"reports": strings.Join(args, ", ")}}
				if err := writeFile(htmlOut, func(w io.Writer) error { return report.WriteHTML(w, run) }); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--report-html: %w", err)}
				}
			}
			// The same closing line and exit status as one run: a merge that
			// still lacks part of a requirement is PARTIAL, exit 3.
			fmt.Fprintln(out, conclusion)
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&jsonOut, "json-report", "", "write the merged Ginkgo JSON report to this file")
	cmd.Flags().StringVar(&htmlOut, "report-html", "", "write the merged verdict as an HTML report")
	return cmd
}

// mergeReports reads one-suite Ginkgo JSON reports and combines their
// specs: each spec once, run results before skips.
func mergeReports(paths []string) (types.Report, error) {
	var merged types.Report
	index := map[string]int{}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return merged, err
		}
		var reports []types.Report
		if err := json.Unmarshal(b, &reports); err != nil {
			return merged, fmt.Errorf("%s: not a JSON report: %v", p, err)
		}
		if len(reports) != 1 {
			return merged, fmt.Errorf("%s holds %d suites, want 1", p, len(reports))
		}
		r := reports[0]
		if i == 0 {
			merged = r
			merged.SpecReports = nil
		} else if r.SuiteDescription != merged.SuiteDescription {
			return merged, fmt.Errorf("%s is a report of %q, not %q", p, r.SuiteDescription, merged.SuiteDescription)
		}
		merged.SuiteSucceeded = merged.SuiteSucceeded && r.SuiteSucceeded
		if r.RunTime > merged.RunTime {
			merged.RunTime = r.RunTime
		}
		for _, sr := range r.SpecReports {
			key := sr.FullText() + "\x00" + sr.LeafNodeLocation.String()
			j, seen := index[key]
			switch {
			case !seen:
				index[key] = len(merged.SpecReports)
				merged.SpecReports = append(merged.SpecReports, sr)
			case merged.SpecReports[j].State == types.SpecStateSkipped && sr.State != types.SpecStateSkipped:
				merged.SpecReports[j] = sr
			}
		}
	}
	return merged, nil
}
