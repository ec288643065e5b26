package specs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/core/host"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// Kinds of implementation under test that can die (Death.Kind).
const (
	// DeathPlugin: a plugin process exited, or could not be started again.
	DeathPlugin = "plugin"
	// DeathProgram: a program wrapped by the exec adapter exited.
	DeathProgram = "program"
	// DeathTarget: the running server of address mode stopped accepting
	// connections.
	DeathTarget = "target"
)

// DeathEntry names the report entry (never shown on the console) whose
// value, a JSON Death, says that the implementation under test died during
// the spec, or was dead when the spec needed it. The verdict gathers these
// entries into one cause at the top (Causes).
const DeathEntry = "implementation under test died"

// BlockedPrefix starts the skip message of a spec that could not be judged
// because the implementation under test was dead and could not be brought
// back (a target that stopped accepting, a plugin that can no longer be
// started); such specs make their requirement BLOCKED, not FAIL.
const BlockedPrefix = "blocked: "

// Death says how the implementation under test died or stopped accepting.
type Death struct {
	// What names what died, the same for every death of one cause: "the
	// server plugin builtin:NAME", "the target 127.0.0.1:8080".
	What string `json:"what"`
	// Kind is DeathPlugin, DeathProgram or DeathTarget.
	Kind string `json:"kind"`
	// Evidence says how it died: exit status and last lines of output, or
	// the refused connection.
	Evidence string `json:"evidence"`
	// Blocked is set when the spec could not run at all because it was
	// already dead; unset, it died during the spec, which failed.
	Blocked bool `json:"blocked,omitempty"`
	// At is when greetspec saw it.
	At time.Time `json:"at"`
}

// message is the spec's failure or skip message: the cause first.
func (d Death) message() string {
	what := d.What
	if d.Kind == DeathTarget {
		what += " stopped accepting connections:"
	}
	if d.Blocked {
		return BlockedPrefix + what + " " + d.Evidence
	}
	head, rest, _ := strings.Cut(d.Evidence, "\n")
	msg := what + " " + head + ", during this spec"
	if d.Kind == DeathProgram {
		// The adapter's own words name the program and its exit.
		msg = strings.TrimSuffix(head, "; last output:") + ", during this spec"
		if strings.HasSuffix(head, "; last output:") {
			msg += "; last output:"
		}
	}
	if rest != "" {
		msg += "\n" + rest
	}
	return msg
}

// recordDeath attaches d to the running spec's report.
func recordDeath(d Death) {
	if d.At.IsZero() {
		d.At = time.Now()
	}
	data, err := json.Marshal(d)
	if err != nil {
		return
	}
	AddReportEntry(DeathEntry, string(data), ReportEntryVisibilityNever)
}

// failDied records that the implementation died during the spec and fails
// the spec at once, naming it first.
func failDied(d Death) {
	GinkgoHelper()
	d.Blocked = false
	recordDeath(d)
	Fail(d.message())
}

// blockSpec records that the implementation was dead when the spec needed
// it and ends the spec as blocked: nothing could be judged.
func blockSpec(d Death) {
	GinkgoHelper()
	d.Blocked = true
	recordDeath(d)
	Skip(d.message())
}

// pluginDeath describes the plugin p of a slot that went away during a
// spec.
func pluginDeath(sl *slot, p *host.Plugin) Death {
	status := p.ExitStatus()
	if status == "" {
		status = "went away"
	}
	ev := status
	if pid := p.PID(); pid != 0 {
		ev += fmt.Sprintf(" (process %d)", pid)
	}
	if out := p.LastOutput(); out != "" {
		ev += "\nlast output:\n" + indentLines(out)
	}
	return Death{What: sl.what(), Kind: DeathPlugin, Evidence: ev}
}

// indentLines indents each line of s by four spaces.
func indentLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// targetAccepted counts the connections the target accepted in this
// process; a refusal after one is the target's death, not a wrong address
// (greetspec run also checks the target accepts before any spec runs).
var targetAccepted atomic.Int64

// targetRefused handles a refused connection to the target of address mode:
// if the spec had already reached the target, the target stopped accepting
// during the spec, which fails; otherwise it was dead before the spec, which
// is blocked. Other dial errors return.
func targetRefused(addr string, err error, reachedInSpec int) {
	GinkgoHelper()
	if !errors.Is(err, syscall.ECONNREFUSED) || (targetAccepted.Load() == 0 && !Settings.Preflighted) {
		return
	}
	d := Death{What: "the target " + addr, Kind: DeathTarget,
		Evidence: fmt.Sprintf("connection refused at %s after %d accepted connections", addr, targetAccepted.Load())}
	if reachedInSpec > 0 {
		failDied(d)
	}
	blockSpec(d)
}

// targetProbeAfter is how long a wait for a log line of address mode lasts
// before it starts asking whether the target still accepts, and then how
// often it asks. A correct server's line comes long before, so it is never
// probed; a dead one ends the wait within about this long, not its bound.
const targetProbeAfter = time.Second

// probeTargetWhileWaiting is called on each tick of a wait for the target's
// log line: past targetProbeAfter, once per targetProbeAfter, it connects
// once (reset before any byte, so the server sees no name and logs
// nothing); a refusal means the target died during the spec, which fails at
// once naming that.
func (s *ServerUnderTest) probeTargetWhileWaiting(started time.Time) {
	GinkgoHelper()
	if !s.external || time.Since(started) < targetProbeAfter || time.Since(s.lastProbe) < targetProbeAfter {
		return
	}
	s.lastProbe = time.Now()
	if err := probeTarget(s.Addr); errors.Is(err, syscall.ECONNREFUSED) {
		failDied(Death{What: "the target " + s.Addr, Kind: DeathTarget,
			Evidence: fmt.Sprintf("connection refused at %s after %d accepted connections", s.Addr, targetAccepted.Load())})
	}
}

// probeTarget connects once to the target and resets the connection before
// any byte (greetspec run's preflight does the same), returning the dial
// error.
func probeTarget(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, Settings.WaitTimeout)
	if err != nil {
		return err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	return conn.Close()
}

// checkTargetAfterFailure runs when a spec of address mode ends: if the
// spec failed after reaching the target, one connection (reset before any
// byte, so the server sees no name and logs nothing) tells whether the
// target still accepts. A refusal means it died during the spec, whose
// failure it explains: the spec stays FAIL, and the death is recorded so
// that the verdict states it once, at the top, with the specs it blocked.
func (s *ServerUnderTest) checkTargetAfterFailure() {
	if s.dialed == 0 || !CurrentSpecReport().Failed() || hasDeath(CurrentSpecReport()) {
		return
	}
	if err := probeTarget(s.Addr); errors.Is(err, syscall.ECONNREFUSED) {
		recordDeath(Death{What: "the target " + s.Addr, Kind: DeathTarget,
			Evidence: fmt.Sprintf("connection refused at %s after %d accepted connections", s.Addr, targetAccepted.Load())})
	}
}

// deathOf returns the death recorded in a spec's report, if any: the first
// one.
func deathOf(entries []types.ReportEntry) *Death {
	for _, e := range entries {
		if e.Name != DeathEntry {
			continue
		}
		var d Death
		if json.Unmarshal([]byte(e.StringRepresentation()), &d) == nil && d.What != "" {
			return &d
		}
	}
	return nil
}

// Cause is one implementation under test that died or stopped accepting
// during a run, with its evidence, gathered from every spec (and every
// lane) that saw it: the verdict states it once, at the top.
type Cause struct {
	// What names what died (Death.What); Kind is its Death.Kind.
	What string `json:"what"`
	Kind string `json:"kind"`
	// Deaths counts the specs during which it died (each FAILs).
	Deaths int `json:"deaths"`
	// First names the spec during which it was first seen dead:
	// requirement ID and spec text.
	First string `json:"first"`
	// Evidence is how it was first seen dead.
	Evidence string `json:"evidence"`
	// Blocked counts the requirements it left BLOCKED; BlockedSpecs the
	// specs that could not run because of it.
	Blocked      int `json:"blocked"`
	BlockedSpecs int `json:"blocked_specs"`
	first        time.Time
}

// Causes gathers the deaths recorded in the verdicts into one cause per
// implementation that died, earliest first.
func Causes(vs []Verdict) []Cause {
	byWhat := map[string]*Cause{}
	var order []*Cause
	for _, v := range vs {
		blockedBy := map[string]bool{}
		for _, s := range v.Specs {
			d := s.Death
			if d == nil {
				continue
			}
			c := byWhat[d.What]
			if c == nil {
				c = &Cause{What: d.What, Kind: d.Kind}
				byWhat[d.What] = c
				order = append(order, c)
			}
			if c.First == "" || d.At.Before(c.first) {
				c.first, c.First, c.Evidence = d.At, v.Requirement.ID+" "+s.Text, d.Evidence
			}
			if s.Status == StatusBlocked {
				c.BlockedSpecs++
				blockedBy[d.What] = true
			} else {
				c.Deaths++
			}
		}
		if v.Outcome == OutcomeBlocked {
			for what := range blockedBy {
				byWhat[what].Blocked++
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].first.Before(order[j].first) })
	out := make([]Cause, len(order))
	for i, c := range order {
		out[i] = *c
	}
	return out
}

// Summary is the cause in one line: what died, how often, when first, and
// what it blocked.
func (c Cause) Summary() string {
	var b strings.Builder
	b.WriteString(c.What)
	switch {
	case c.Kind == DeathTarget:
		b.WriteString(" stopped accepting connections")
	case c.Deaths > 1:
		fmt.Fprintf(&b, " died %d times", c.Deaths)
	case c.Deaths == 1:
		b.WriteString(" died once")
	default:
		b.WriteString(" could not be started again")
	}
	fmt.Fprintf(&b, "; first during %s", c.First)
	if c.Blocked > 0 || c.BlockedSpecs > 0 {
		fmt.Fprintf(&b, "; it blocked %s (%s could not run)", plural(c.Blocked, "requirement"), plural(c.BlockedSpecs, "spec"))
	}
	return b.String()
}

// plural says "1 spec", "2 specs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// WriteCauses prints the causes, if any, as one block: what died, when, its
// evidence and what it blocked. It comes before the requirement table, whose
// lines then refer to it.
func WriteCauses(w interface{ Write([]byte) (int, error) }, cs []Cause) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintln(w, "The implementation under test died during the run (stated once here; the requirements below refer to it):")
	for _, c := range cs {
		fmt.Fprintf(w, "  %s\n", Elide(c.Summary(), 400))
		for _, l := range strings.Split(c.Evidence, "\n") {
			fmt.Fprintf(w, "      %s\n", Elide(strings.TrimRight(l, " "), 300))
		}
		switch {
		case c.Deaths > 0 && c.Blocked > 0:
			fmt.Fprintln(w, "      The specs during which it died FAIL; the requirements it left unjudged are BLOCKED.")
		case c.Deaths > 0:
			fmt.Fprintln(w, "      The specs during which it died FAIL.")
		case c.Blocked > 0:
			fmt.Fprintln(w, "      The requirements it left unjudged are BLOCKED: nothing is blamed on them.")
		}
	}
	fmt.Fprintln(w)
}
