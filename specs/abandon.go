package specs

import (
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
)

// interrupted is set once the run is interrupted (SIGINT, SIGTERM, or the
// suite timeout through MarkInterrupted). Ginkgo then abandons the spec in
// flight at once, since no spec takes a SpecContext; its goroutine goes on,
// and a Ginkgo call from it (DeferCleanup outside a node) would make Ginkgo
// end the whole process with status 1 before any verdict is written.
var (
	interrupted atomic.Bool
	watchOnce   sync.Once
	signals     chan os.Signal
)

// MarkInterrupted records that the run is being interrupted; callers that
// stop the suite for a reason other than a signal (--timeout) call it.
func MarkInterrupted() { interrupted.Store(true) }

// watchSignals registers for SIGINT and SIGTERM. Ginkgo's own handler gets
// the same signals and stops the suite; the runtime delivers a signal to
// every registered channel in one pass, so by the time Ginkgo has
// abandoned a spec the signal is waiting in ours too.
func watchSignals() {
	watchOnce.Do(func() {
		signals = make(chan os.Signal, 1)
		signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	})
}

// isInterrupted reports whether the run is being interrupted. It reads the
// signal channel itself rather than waiting for a goroutine to set the
// flag: under load such a goroutine may run only after the abandoned spec
// has already called into Ginkgo.
func isInterrupted() bool {
	watchSignals()
	select {
	case <-signals:
		MarkInterrupted()
	default:
	}
	return interrupted.Load()
}

// deferCleanup is DeferCleanup for the spec helpers. In a spec goroutine
// that Ginkgo abandoned at an interruption it runs fn at once instead and
// then ends the goroutine quietly: the run is stopping, its verdict is
// INTERRUPTED, and nothing must reach Ginkgo from a node that has ended.
func deferCleanup(fn func()) {
	if isInterrupted() {
		fn()
		runtimeGoexit()
	}
	DeferCleanup(fn)
}
