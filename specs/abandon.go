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
)

// MarkInterrupted records that the run is being interrupted; callers that
// stop the suite for a reason other than a signal (--timeout) call it.
func MarkInterrupted() { interrupted.Store(true) }

// watchSignals sets interrupted on SIGINT or SIGTERM. Ginkgo's own handler
// gets the same signals and stops the suite.
func watchSignals() {
	watchOnce.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-ch
			MarkInterrupted()
		}()
	})
}

// deferCleanup is DeferCleanup for the spec helpers. In a spec goroutine
// that Ginkgo abandoned at an interruption it runs fn at once instead and
// then ends the goroutine quietly: the run is stopping, its verdict is
// INTERRUPTED, and nothing must reach Ginkgo from a node that has ended.
func deferCleanup(fn func()) {
	watchSignals()
	if interrupted.Load() {
		fn()
		runtimeGoexit()
	}
	DeferCleanup(fn)
}
