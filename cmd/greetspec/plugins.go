package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/greetspec/greetspec/plugins/builtin"
	"github.com/spf13/cobra"
)

func newPluginsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plugins",
		Short: "List the plugins built into greetspec",
		Long: `List the plugins built into greetspec. Pass one to run as
--server builtin:NAME or --client builtin:NAME.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, e := range builtin.All() {
				fmt.Fprintf(w, "builtin:%s\t%s\n", e.Name, e.Summary)
			}
			return w.Flush()
		},
	}
}
