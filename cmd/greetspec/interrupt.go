package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/specs"
	"github.com/onsi/ginkgo/v2/types"
)

// interruptGrace is how long the spec in flight may take to finish once
// the run is interrupted, before Ginkgo moves on to cleanup without it.
const interruptGrace = 5 * time.Second

// interrupts watches for SIGINT and SIGTERM from before the first plugin
// starts until the run ends. Before the suite runs a signal cancels the
// setup; while it runs, Ginkgo's own handler (which gets the same signals)
// stops it in order, and interrupts records what happened for the verdict.
type interrupts struct {
	ctx    context.Context
	cancel context.CancelFunc
	ch     chan os.Signal
	done   chan struct{}

	stopOnce sync.Once

	mu  sync.Mutex
	sig os.Signal
	at  time.Time
}

func watchInterrupts() *interrupts {
	ctx, cancel := context.WithCancel(context.Background())
	in := &interrupts{ctx: ctx, cancel: cancel, ch: make(chan os.Signal, 4), done: make(chan struct{})}
	signal.Notify(in.ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for {
			select {
			case s := <-in.ch:
				in.mu.Lock()
				if in.sig == nil {
					in.sig, in.at = s, time.Now()
				}
				in.mu.Unlock()
				in.cancel()
			case <-in.done:
				return
			}
		}
	}()
	return in
}

// stop ends the watch; signals then have their default effect again.
func (in *interrupts) stop() {
	in.stopOnce.Do(func() {
		signal.Stop(in.ch)
		close(in.done)
		in.cancel()
	})
}

// signalled returns the first signal received, if any, and when.
func (in *interrupts) signalled() (os.Signal, time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.sig, in.at
}

// signalName spells a signal the way people type it.
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// info combines what the watch saw with what Ginkgo reported: a signal, or
// the suite timeout (--timeout) elapsing.
func (in *interrupts) info(report types.Report, selected map[string]bool, roles []string) specs.RunInfo {
	info := specs.InfoFromReport(report)
	info.Selected, info.RolesTested = selected, roles
	// A signal that came after the last spec ended interrupted nothing.
	if sig, at := in.signalled(); sig != nil && (report.EndTime.IsZero() || at.Before(report.EndTime)) {
		info.Interrupted, info.Cause, info.At = true, signalName(sig), at
	} else if info.Interrupted && info.Cause == "the suite timeout" {
		info.Cause = "--timeout " + report.SuiteConfig.Timeout.String()
	}
	return info
}
