package specs

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/greetspec/greetspec/fixtures"
	. "github.com/onsi/ginkgo/v2"
)

// Designed waits: the time a spec spends waiting even against a perfect
// implementation, because what it checks is that something does NOT
// happen for a while (no byte before the name ends, no close before T) or
// that something happens only after T. Every such wait is derived from T
// (Settings.IdleTimeout) or from the gap (Settings.Gap); nothing else in
// the suite waits a fixed time. Waits for things that should happen
// (a reply, an event, a close) end as soon as it happens and are bounded
// by WaitTimeout, which is generous on purpose and costs nothing.

// FixtureGapUnit is the gap the fixtures' gap_ms values are written for:
// a fixture pause of gap_ms milliseconds lasts gap_ms/50 gaps, so the
// scripted servers' pauses scale with --gap like every other pause.
const FixtureGapUnit = 50 * time.Millisecond

// FixturePause is how long a scripted server pauses for a fixture's gap d
// under the current Settings: d scaled by Gap/FixtureGapUnit (zero stays
// zero).
func FixturePause(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(int64(d) * int64(Settings.Gap) / int64(FixtureGapUnit))
}

// quietWait is how long a spec checks that the server sends nothing before
// the name has ended: T/3. The server in such a spec is started with a T
// far longer (atOnceIdle), so that a scheduling delay on a loaded machine
// cannot stretch the silence past the server's T and make a correct
// server's greeting look early.
func quietWait() time.Duration { return Settings.IdleTimeout / 3 }

// DesignedWait is one kind of designed wait of the suite.
type DesignedWait struct {
	// Requirement is the requirement whose specs make the wait (several
	// are separated by ", ").
	Requirement string
	// Specs is how many specs make it.
	Specs int
	// Each is how long one spec waits.
	Each time.Duration
	// Rule says how Each follows from the settings.
	Rule string
}

// DesignedWaits lists the suite's designed waits under c, for a server and
// a client under test, longest per spec first.
func DesignedWaits(c Config) []DesignedWait {
	t, gap := c.IdleTimeout, c.Gap
	scale := func(d time.Duration) time.Duration {
		return time.Duration(int64(d) * int64(gap) / int64(FixtureGapUnit))
	}
	var replyPauses time.Duration
	replyCases := 0
	timeouts := 0
	for _, r := range fixtures.Replies() {
		if r.ExpectClass == "TIMEOUT" {
			timeouts++
		}
		if r.Gap <= 0 {
			continue
		}
		replyCases++
		n := len(r.Pieces) - 1 // before every piece after the first
		if r.Close != fixtures.CloseNone {
			n++ // and before the close
		}
		replyPauses += time.Duration(n) * scale(r.Gap)
	}
	splittable := len(splittableNameEntries())
	overLimit := len(overLimitLengths())
	refused := 0
	for _, n := range limitNames() {
		if len(n.Name) > 1024 {
			refused++
		}
	}
	ws := []DesignedWait{
		{"CLI-TIMEOUT-1", timeouts, 4 * t, "the client's timeout, 4T, on a server that never closes"},
		{"SRV-NAME-3", 2, t, "T of client silence ends the name"},
		{"SRV-LOG-1, SRV-CONC-2", 2, t, "settle time, T: no second report of a connection"},
		{"SRV-IDLE-1", 1, t, "T without a byte closes the connection"},
		{"SRV-CLOSE-1", overLimit, t, "the server drains an over-long name's extra bytes for up to T before it closes"},
		{"SRV-GREET-2", 1 + splittable, t / 3, "T/3 of checked silence before the name ends (the server's own T is 30 s)"},
		{"SRV-NAME-1", splittable, 2 * gap, "a name in 3 pieces, a gap apart"},
		{"CLI-LIMIT-1", refused, gap, "a gap's wait for a connection the client must not make"},
	}
	if replyCases > 0 {
		ws = append(ws, DesignedWait{"CLI-REPLY-1 and others", replyCases, replyPauses / time.Duration(replyCases), "scripted replies' pauses: fixture gap_ms × gap / 50 ms"})
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Each > ws[j].Each })
	return ws
}

// Floor is the least time the designed waits under c let a run take in
// procs lanes: each spec's designed wait dealt out longest first to the
// lane that is free first (as the lanes claim them), and the last lane's
// end. With one lane it is the sum of the waits; it is never below the
// longest single wait nor below the sum shared out evenly.
func Floor(c Config, procs int) time.Duration {
	procs = max(procs, 1)
	var each []time.Duration
	for _, d := range DesignedWaits(c) {
		for range d.Specs {
			each = append(each, d.Each)
		}
	}
	slices.SortFunc(each, func(a, b time.Duration) int { return int(b - a) })
	lanes := make([]time.Duration, procs)
	for _, w := range each {
		i := slices.Index(lanes, slices.Min(lanes))
		lanes[i] += w
	}
	return slices.Max(lanes)
}

// SpecCost is a spec's own time beyond its designed waits (starting and
// stopping the server, the probe's exchange, the reports): about 1.5 ms
// measured by BenchmarkSpecOverhead, taken generously.
const SpecCost = 2500 * time.Microsecond

// LaneWorth is how much serial time (designed waits plus SpecCost per spec)
// a lane must take over to pay for itself: each lane is a process with its
// own plugins, about 0.3 CPU-seconds and 0.15 s to start (BENCHMARKS.md).
const LaneWorth = 750 * time.Millisecond

// SpecWork returns a function that estimates the serial time of one spec
// of a requirement under c: the longest designed wait of the
// requirement's specs plus SpecCost.
func SpecWork(c Config) func(id string) time.Duration {
	waits := map[string]time.Duration{}
	for _, d := range DesignedWaits(c) {
		for _, id := range strings.Split(d.Requirement, ", ") {
			waits[id] = max(waits[id], d.Each)
		}
	}
	return func(id string) time.Duration { return waits[id] + SpecCost }
}

// LanesFor returns how many lanes, from 1 to most, a selection whose serial
// time is work (the sum of its specs' SpecWork) is worth: one per
// LaneWorth. A small selection runs in greetspec's own process, where
// lanes would cost more than they save.
func LanesFor(work time.Duration, most int) int {
	n := int((work + LaneWorth - 1) / LaneWorth)
	return max(1, min(n, most))
}

// Bound is the 1.3x of the floor a run may take: what is left for start-up
// and the specs' own work beyond their designed waits.
func Bound(floor time.Duration) time.Duration { return floor * 13 / 10 }

// WriteDesignedWaits prints the designed waits under c and the floor they
// set: their sum is the least a serial run can take; with procs lanes the
// floor is Floor (longest first across the lanes), and a run should take
// at most Bound of it on any machine.
func WriteDesignedWaits(w io.Writer, c Config, procs int) {
	ws := DesignedWaits(c)
	var total time.Duration
	fmt.Fprintf(w, "Designed waits with T=%v, gap=%v (waits for outcomes that should come are bounded by --wait-timeout %v and end when they come):\n", c.IdleTimeout, c.Gap, c.WaitTimeout)
	for _, d := range ws {
		sum := time.Duration(d.Specs) * d.Each
		total += sum
		fmt.Fprintf(w, "  %-22s %3d specs × %-8v = %-8v %s\n", d.Requirement, d.Specs, d.Each.Round(time.Millisecond), sum.Round(time.Millisecond), d.Rule)
	}
	fmt.Fprintf(w, "Floor of a serial run (--procs 1): %v\n", total.Round(time.Millisecond))
	if procs > 1 {
		floor := Floor(c, procs)
		fmt.Fprintf(w, "Floor with --procs %d: %v (each spec's wait dealt out longest first to the lane free first; the sum shared by %d lanes is %v)\n",
			procs, floor.Round(time.Millisecond), procs, (total / time.Duration(procs)).Round(time.Millisecond))
	}
	fmt.Fprintf(w, "Target on this machine (%d CPUs): a whole run within 1.3 × the floor, %v\n", runtime.NumCPU(), Bound(Floor(c, procs)).Round(time.Millisecond))
	fmt.Fprintf(w, "Not in the floor: on a machine too busy to keep greetspec's own probe on time, a SRV-GREET-2 or SRV-NAME-1 case whose probe paused for T or more proves nothing and is tried again, up to %d times in all (then NOT-OBSERVABLE); each try adds that case's wait again\n", probeAttempts)
}

var (
	hintsOnce sync.Once
	hints     []DesignedWait
)

// priorityHint orders the specs longest designed wait first (a Ginkgo
// SpecPriority), so parallel lanes start the long waits early and the run
// does not end on one of them. The order within a priority stays Ginkgo's.
func priorityHint(id string) SpecPriority {
	hintsOnce.Do(func() { hints = DesignedWaits(DefaultConfig()) })
	for _, d := range hints {
		if slices.Contains(strings.Split(d.Requirement, ", "), id) {
			return SpecPriority(d.Each.Milliseconds())
		}
	}
	return 0
}
