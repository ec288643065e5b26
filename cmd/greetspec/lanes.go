package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/specs"
	"github.com/greetspec/greetspec/specs/runner"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// speedOptions are the flags of `greetspec run` that choose how the suite
// is run: in parallel lanes, a shard of it, or only its designed waits
// explained.
type speedOptions struct {
	procs        int
	shard        string
	explainWaits bool
}

func (s *speedOptions) register(f *pflag.FlagSet) {
	f.IntVar(&s.procs, "procs", runner.DefaultProcs, "run the specs in this many parallel lanes (child processes, each with its own plugins); 1 runs them one after another in this process. Unset, a selection gets one lane per 750ms of its designed waits and specs, up to the default: a small one runs in this process")
	f.StringVar(&s.shard, "shard", "", "run only shard I of N (I/N, e.g. 2/4): a fixed part of the selected specs, chosen by their text")
	f.BoolVar(&s.explainWaits, "explain-waits", false, "print every designed wait of the suite and the floor the timing flags imply, and exit")
}

// selectedRoles are the roles under test that the run's filters select
// specs of (set by selection): each lane launches their plugins at its
// start.
var selectedRoles []string

// selectedWork estimates the serial time of the selected specs of the
// roles under test (set by selection): without --procs, the run uses as
// many lanes as it is worth (specs.LanesFor).
var selectedWork time.Duration

// launchSuite runs the suite serially in this process (RunSpecs) or in
// lanes, and leaves the report in verdictReport. Lanes are not used where
// they would change what is tested: a running --target, or a plugin
// attached by hand (--attach-server/--attach-client), is one process that
// lanes would share; --fail-fast stops at the first failure in run order;
// Ginkgo flags after "--" may ask for things only a single process does.
func (o *runOptions) launchSuite(t *fakeT, suite types.SuiteConfig, rep types.ReporterConfig, ginkgoArgs []string) (bool, error) {
	var shard, shards int
	if o.speed.shard != "" {
		var err error
		if shard, shards, err = parseShard(o.speed.shard); err != nil {
			return false, usageErr("--shard %v", err)
		}
	}
	if o.speed.procs < 1 {
		return false, usageErr("--procs must be at least 1, got %d", o.speed.procs)
	}
	if o.needsOneProcess(suite, ginkgoArgs) && shards > 0 {
		return false, usageErr("--shard cannot be combined with --target, --attach-server/--attach-client, --fail-fast or Ginkgo flags after --")
	}
	if o.serial(suite, ginkgoArgs) {
		if suite.Timeout > 0 {
			// The suite timeout abandons the spec in flight like a signal.
			stop := time.AfterFunc(suite.Timeout, specs.MarkInterrupted)
			defer stop.Stop()
		}
		return RunSpecs(t, "greetspec conformance", suite, rep), nil
	}
	exe, err := os.Executable()
	if err != nil {
		return false, usageErr("cannot find greetspec's own executable: %v", err)
	}
	report, passed, err := runner.Run(context.Background(), runner.Options{
		Procs: o.speed.procs, Shard: shard, Shards: shards,
		Exe: exe, Settings: specs.Settings, PluginLog: o.pluginLog,
		Suite: suite, Reporter: rep, Description: "greetspec conformance",
		Out: os.Stdout, Stderr: os.Stderr,
		Pins: pinsOf(o), Prelaunch: selectedRoles,
	})
	if errors.Is(err, runner.ErrInterrupted) {
		verdictReport = &report
		return false, &exitError{code: 4, err: fmt.Errorf("interrupted")}
	}
	if err != nil {
		return false, &exitError{code: 2, err: err}
	}
	verdictReport = &report
	return passed, nil
}

// needsOneProcess reports whether the run must not be split into lanes:
// see launchSuite.
func (o *runOptions) needsOneProcess(suite types.SuiteConfig, ginkgoArgs []string) bool {
	attached := strings.HasPrefix(o.server, host.AttachPrefix) || strings.HasPrefix(o.client, host.AttachPrefix)
	return o.target != "" || attached || suite.FailFast || len(ginkgoArgs) > 0
}

// serial reports whether the suite runs in this process (RunSpecs) rather
// than in lanes: --procs 1 without --shard, or a run that needs one process.
func (o *runOptions) serial(suite types.SuiteConfig, ginkgoArgs []string) bool {
	return (o.speed.procs == 1 && o.speed.shard == "") || o.needsOneProcess(suite, ginkgoArgs)
}

// pinsOf gives the lanes the checksums pinned with --server-sha256 and
// --client-sha256, set in this order as pinChecksums sets them.
func pinsOf(o *runOptions) map[string]string {
	pins := map[string]string{}
	if o.serverSHA256 != "" {
		pins[o.server] = o.serverSHA256
	}
	if o.clientSHA256 != "" {
		pins[o.client] = o.clientSHA256
	}
	return pins
}

// newLaneCmd is the hidden subcommand a parallel run starts its lanes with.
func newLaneCmd() *cobra.Command {
	return &cobra.Command{
		Use:    runner.LaneCommand + " CONFIG INDEX",
		Short:  "Run one lane of a parallel run (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			index, err := strconv.Atoi(args[1])
			if err != nil {
				return usageErr("lane index %q: %v", args[1], err)
			}
			if code := runner.Lane(args[0], index); code != 0 {
				return &exitError{code: code, err: errors.New("")}
			}
			return nil
		},
	}
}

// explainWaits prints the designed waits of the suite under s.
func explainWaits(o *runOptions, s specs.Config) error {
	specs.WriteDesignedWaits(os.Stdout, s, o.speed.procs)
	return nil
}
