package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/greetspec/greetspec/plugins/scaffold"
	"github.com/spf13/cobra"
)

func newNewCmd() *cobra.Command {
	o := scaffold.Options{}
	cmd := &cobra.Command{
		Use:   "new server|client NAME",
		Short: "Write a new plugin, correct as generated, to start from",
		Long: `Write a complete greetspec plugin from templates built into greetspec.

  --lang go       a main package and its own go.mod; it imports only the
                  public contract package (github.com/greetspec/greetspec/core/contract).
                  Inside or below a greetspec checkout, go.mod gets a replace
                  directive pointing at it (or give --greetspec-dir).
  --lang python   a native Python plugin with the generated gRPC stubs it
                  needs; run it with /usr/bin/python3 (Debian's python3-grpcio,
                  python3-protobuf and python3-cryptography).

The plugin passes the whole suite as generated; the protocol logic to change
is marked CHANGE. NAME must be an identifier. Existing files are never
overwritten. The commands to build and test the plugin are printed last.`,
		Example: `  greetspec new server myserver
  greetspec new client myclient --lang python --dir ./plugins-wip/myclient`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Role, o.Name = args[0], args[1]
			if o.Dir == "" {
				o.Dir = o.Name
			}
			if o.Lang == "go" && o.GreetspecDir == "" {
				o.GreetspecDir = findCheckout()
			}
			if o.GreetspecDir != "" {
				abs, err := filepath.Abs(o.GreetspecDir)
				if err != nil {
					return usageErr("--greetspec-dir: %v", err)
				}
				o.GreetspecDir = abs
			}
			if err := o.Validate(); err != nil {
				return usageErr("%v", err)
			}
			paths, err := scaffold.Write(o)
			if err != nil {
				return usageErr("%v", err)
			}
			out := cmd.OutOrStdout()
			for _, p := range paths {
				fmt.Fprintln(out, "wrote", p)
			}
			fmt.Fprint(out, scaffold.NextSteps(o, invokedAs()))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Lang, "lang", "go", "language of the plugin: go or python")
	f.StringVar(&o.Dir, "dir", "", "directory to write into (default: ./NAME)")
	f.StringVar(&o.GreetspecDir, "greetspec-dir", "", "greetspec checkout for the Go module's replace directive (default: the checkout the current directory is in)")
	return cmd
}

// findCheckout returns the greetspec checkout containing the current
// directory, or "".
func findCheckout() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			isOurs := sc.Scan() && strings.TrimSpace(sc.Text()) == "module github.com/greetspec/greetspec"
			f.Close()
			if isOurs {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// invokedAs is how the user ran greetspec, for commands printed back to
// them: `go run ./cmd/greetspec` under go run, else the program name.
func invokedAs() string {
	if exe, err := os.Executable(); err == nil && strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/greetspec"
	}
	if strings.ContainsRune(os.Args[0], filepath.Separator) {
		return os.Args[0]
	}
	return "greetspec"
}
