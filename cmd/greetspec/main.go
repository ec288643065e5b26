// Command greetspec runs the greeting-protocol conformance suite against
// server and client implementations and prints a verdict per requirement.
//
//	greetspec run                       # the bundled reference plugins
//	greetspec run --server ./my-plugin  # your server, as a go-plugin plugin
//	greetspec list                      # every requirement and its specs
//
// Exit status of run: 0 when every selected requirement was verified and
// passed, 1 when some failed, 2 on a usage or setup error (bad flags, a
// plugin that cannot be started), 3 when the specs that ran passed but less
// was verified than selected (PARTIAL, NOT-OBSERVABLE), 4 when a signal or
// --timeout interrupted the run.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/plugins/builtin"
	"github.com/greetspec/greetspec/specs/runner"
	"github.com/spf13/cobra"
)

// exitError carries an exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// usageErr marks err as a usage or setup error (status 2).
func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// gcPercent is the garbage collector's target for greetspec's own
// processes (the command, its lanes, its built-in plugins) when GOGC is not
// set: they live for seconds and hold tens of megabytes, and collecting at
// Go's default of 100 cost a lane 7-9% of its CPU (BENCHMARKS.md).
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	// Re-executed as the run's watchdog or as one of its own built-in
	// plugins, greetspec serves that and never reaches the CLI.
	host.ServeWatchdogIfRequested()
	builtin.ServeIfRequested()
	os.Exit(contained(os.Args[1:]))
}

// contained runs the CLI inside a containment (see host.Contain): whatever
// ends greetspec, even SIGKILL, no plugin, wrapped program or process they
// started outlives it, and no temporary directory stays behind. A process
// still running host.DefaultInterruptGrace after a signal (or the grace
// given to host.OnInterrupt), or a second signal, ends greetspec at once
// with status 4, after that cleanup.
func contained(args []string) int {
	if len(args) > 0 && args[0] == runner.LaneCommand {
		// A lane of a parallel run is inside its parent's containment.
		return execute(args)
	}
	if self, err := os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "greetspec: warning: processes not contained:", err)
	} else if err := host.Contain(self); err != nil {
		fmt.Fprintln(os.Stderr, "greetspec: warning: processes not contained:", err)
	}
	code := execute(args)
	host.Exit(code) // unless an interrupt is already ending the run
	return code
}

// execute runs the CLI with args and returns the exit status.
func execute(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "greetspec:", ee.err)
		}
		return ee.code
	}
	// Everything cobra itself reports (unknown flag, bad value, missing
	// subcommand) is a usage error.
	fmt.Fprintln(os.Stderr, "greetspec:", err)
	fmt.Fprintln(os.Stderr, "Run 'greetspec --help' for usage.")
	return 2
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "greetspec",
		Short: "Conformance tests for the greeting protocol",
		Long: `greetspec tells you whether a greeting-protocol server or client conforms to
the protocol specification (PROTOCOL.md), requirement by requirement.

Implementations are go-plugin plugins, so they can be written in any language;
greetspec bundles correct reference plugins and deliberately faulty ones.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newListCmd(), newPluginsCmd(), newSelftestCmd(), newNewCmd(), newMatrixCmd(), newBenchCmd(), newRawServerCmd(), newMergeCmd(), newLaneCmd())
	return root
}
