package main

import (
	"errors"
	"flag"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/greetspec/greetspec/specs"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"
)

// maxIdleTimeout is the largest T the plugin contract can carry: its
// idle_timeout_ms is a uint32 count of milliseconds.
const maxIdleTimeout = time.Duration(math.MaxUint32) * time.Millisecond

// validate checks every flag and the Ginkgo flags after "--" before
// anything is started, and applies the filters to Ginkgo's configuration.
// Every problem is a usage error (exit status 2) said in one line.
func (o *runOptions) validate(cmd *cobra.Command, ginkgoArgs []string) error {
	// An empty reference given explicitly would silently test the bundled
	// reference (or nothing) instead of what was meant.
	for _, name := range []string{"server", "client", "server-cmd", "client-cmd", "target", "target-log", "target-log-cmd"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed && strings.TrimSpace(f.Value.String()) == "" {
			return usageErr("--%s is empty: give a plugin reference, a command or an address (leave the flag out not to test that role)", name)
		}
	}
	if err := o.validateDurations(cmd); err != nil {
		return err
	}
	if err := o.resolveRoles(); err != nil {
		return err
	}
	if err := parseGinkgoArgs(ginkgoArgs); err != nil {
		return usageErr("%v", err)
	}
	// The run's own filter flags go into Ginkgo's flags, so that the preview
	// of the selection and the run see the same configuration.
	sets := []struct{ flag, value string }{
		{"ginkgo.label-filter", o.labelFilter},
		{"ginkgo.focus", o.focus},
		{"ginkgo.skip", o.skip},
	}
	for _, s := range sets {
		if s.value == "" {
			continue
		}
		if err := flag.CommandLine.Set(s.flag, s.value); err != nil {
			return usageErr("--%s: %v", strings.TrimPrefix(s.flag, "ginkgo."), err)
		}
	}
	if cmd.Flags().Changed("timeout") {
		if err := flag.CommandLine.Set("ginkgo.timeout", o.timeout.String()); err != nil {
			return usageErr("--timeout: %v", err)
		}
	}
	conf, _ := GinkgoConfiguration()
	if conf.DryRun {
		return usageErr("--dry-run is refused: greetspec reports verdicts, and a dry run would pass every spec without testing anything (use 'greetspec list' to see the specs)")
	}
	if conf.ParallelTotal != 1 {
		return usageErr("Ginkgo's parallel flags are not supported by greetspec run")
	}
	if conf.LabelFilter != "" {
		if _, err := types.ParseLabelFilter(conf.LabelFilter); err != nil {
			return usageErr("--label-filter %q: %s", conf.LabelFilter, ginkgoErrText(err))
		}
	}
	for _, pair := range []struct {
		name string
		res  []string
	}{{"--focus", conf.FocusStrings}, {"--skip", conf.SkipStrings}} {
		for _, re := range pair.res {
			if _, err := regexp.Compile(re); err != nil {
				return usageErr("%s %q is not a valid regular expression: %s", pair.name, re, regexpErrText(err))
			}
		}
	}
	for _, pair := range []struct {
		name    string
		filters []string
	}{{"--focus-file", conf.FocusFiles}, {"--skip-file", conf.SkipFiles}} {
		if len(pair.filters) > 0 {
			if _, err := types.ParseFileFilters(pair.filters); err != nil {
				return usageErr("%s: %s", pair.name, ginkgoErrText(err))
			}
		}
	}
	if conf.SemVerFilter != "" {
		if _, err := types.ParseSemVerFilter(conf.SemVerFilter); err != nil {
			return usageErr("--sem-ver-filter: %s", ginkgoErrText(err))
		}
	}
	if conf.GracePeriod <= 0 {
		return usageErr("--grace-period must be positive, got %v", conf.GracePeriod)
	}
	if conf.Timeout <= 0 {
		return usageErr("--timeout must be positive, got %v", conf.Timeout)
	}
	return nil
}

// validateDurations checks every duration flag against its range.
func (o *runOptions) validateDurations(cmd *cobra.Command) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"--idle-timeout", o.idleTimeout}, {"--wait-timeout", o.waitTimeout}, {"--gap", o.gap},
		{"--start-timeout", o.startTimeout}, {"--ready-timeout", o.readyTimeout}, {"--timeout", o.timeout},
	} {
		if d.v <= 0 {
			return usageErr("%s must be positive, got %v", d.name, d.v)
		}
	}
	if o.idleTimeout < time.Millisecond || o.idleTimeout > maxIdleTimeout {
		return usageErr("--idle-timeout %v is out of range: T is passed to servers in whole milliseconds, from 1ms to %v (2^32-1 ms)", o.idleTimeout, maxIdleTimeout)
	}
	if o.idleTimeout%time.Millisecond != 0 {
		return usageErr("--idle-timeout %v is not a whole number of milliseconds, which is how T is passed to servers", o.idleTimeout)
	}
	if o.speed.procs < 1 {
		return usageErr("--procs must be at least 1, got %d", o.speed.procs)
	}
	if o.speed.shard != "" {
		if _, _, err := parseShard(o.speed.shard); err != nil {
			return usageErr("--shard %v", err)
		}
	}
	if o.gap >= o.idleTimeout {
		return usageErr("--gap (%v) must be below --idle-timeout (%v)", o.gap, o.idleTimeout)
	}
	return nil
}

// ginkgoErrText is one plain line from a Ginkgo error: its heading and
// message, without the colour markup Ginkgo's own Error() adds.
func ginkgoErrText(err error) string {
	var ge types.GinkgoError
	if errors.As(err, &ge) {
		text := ge.Heading
		if ge.Message != "" {
			text += ": " + ge.Message
		}
		return oneLine(stripMarkup(text))
	}
	return oneLine(stripMarkup(err.Error()))
}

var (
	markupRE = regexp.MustCompile(`\{\{/?[a-z-]*\}\}`)
	ansiRE   = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")
)

func stripMarkup(s string) string {
	return ansiRE.ReplaceAllString(markupRE.ReplaceAllString(s, ""), "")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// regexpErrText drops the "error parsing regexp: " prefix Go adds.
func regexpErrText(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// selection previews the suite with the run's filters (nothing runs) and
// returns the specs they select. A run whose filters select no spec of a
// role under test is a usage error: it would test nothing.
func (o *runOptions) selection() (map[string]bool, error) {
	report := PreviewSpecs("greetspec conformance")
	verdictReport = nil // the preview's report-after-suite node ran too
	selected := map[string]bool{}
	roles := map[string]int{}
	work := map[string]time.Duration{}
	specWork := specs.SpecWork(specs.Settings)
	for _, sr := range report.SpecReports {
		id, _, ok := specs.SpecOf(sr)
		if !ok || sr.State != types.SpecStatePassed { // a preview "passes" what it would run
			continue
		}
		selected[specs.SpecKey(sr)] = true
		if r, ok := specs.LookupRequirement(id); ok {
			roles[r.Role]++
			work[r.Role] += specWork(id)
		}
	}
	tested := []string{}
	n := 0
	if o.server != "" || o.target != "" {
		tested = append(tested, "server")
		n += roles["server"]
	}
	if o.client != "" {
		tested = append(tested, "client")
		n += roles["client"]
	}
	selectedRoles, selectedWork = nil, 0
	for _, r := range tested {
		if roles[r] > 0 {
			selectedRoles = append(selectedRoles, r)
		}
		selectedWork += work[r]
	}
	if n == 0 {
		conf, _ := GinkgoConfiguration()
		return nil, usageErr("no spec matched the filters for the role under test (%s): nothing would be tested (label filter %q, focus %q, skip %q; %d server and %d client specs selected)",
			strings.Join(tested, " and "), conf.LabelFilter, conf.FocusStrings, conf.SkipStrings, roles["server"], roles["client"])
	}
	return selected, nil
}

// checkRange reports whether a count flag is within [lo, hi].
func checkRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return usageErr("%s must be between %d and %d, got %d", name, lo, hi, v)
	}
	return nil
}
