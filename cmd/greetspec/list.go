package main

import (
	"fmt"

	"github.com/greetspec/greetspec/specs"
	. "github.com/onsi/ginkgo/v2"
	"github.com/spf13/cobra"
)

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every requirement with its level and the specs that check it",
		Long: `List every requirement of PROTOCOL.md with its level, role and area, and
under it the specs that check it. Nothing is run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			report := PreviewSpecs("greetspec conformance")
			bySpec := map[string][]string{}
			for _, sr := range report.SpecReports {
				if id, text, ok := specs.SpecOf(sr); ok {
					bySpec[id] = append(bySpec[id], text)
				}
			}
			missing := 0
			for _, r := range specs.Catalogue() {
				fmt.Fprintf(out, "%s  %s  %s/%s\n  %s\n", r.ID, r.Level, r.Role, r.Area, r.Text)
				if len(bySpec[r.ID]) == 0 {
					fmt.Fprintln(out, "    (no spec checks this requirement)")
					missing++
				}
				for _, s := range bySpec[r.ID] {
					fmt.Fprintf(out, "    - %s\n", s)
				}
			}
			fmt.Fprintf(out, "%d requirements, %d specs\n", len(specs.Catalogue()), countSpecs(bySpec))
			if missing > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d requirements have no spec", missing)}
			}
			return nil
		},
	}
}

func countSpecs(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}
