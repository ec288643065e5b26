package specs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/core/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ServerUnderTest is the server under test for one spec: a server plugin
// started for the spec, or the running server of address mode. It collects
// what its observation channel reports (see Channel) and is stopped when the
// spec ends.
type ServerUnderTest struct {
	// Addr is the address the server bound.
	Addr string
	// Idle is the idle timeout T it was started with; in address mode the
	// T the user gave (--idle-timeout), taken to be the server's own.
	Idle time.Duration

	plugin   *host.Plugin
	external bool            // address mode: no plugin
	channel  Channel         // what the suite can observe of this server
	caps     map[string]bool // capabilities the server declared
	mu       sync.Mutex
	events   []*contract.ConnectionEvent
	arrived  chan struct{} // closed at the next event (see arrivals)
	exited   string        // why the server stopped serving on its own, if it did
	stopped  chan struct{} // closed when exited is set; nil in address mode
	dialed   int           // connections this spec made to the server
	// lastProbe is when a wait last asked whether the target still accepts.
	lastProbe time.Time
}

// untimedIdle is T for the servers of specs whose verdict does not depend
// on T (a whole name, then end of stream): ten times T, so that a probe
// that a loaded machine delays between its connect and its name does not
// race the server's idle close, while a server that hangs is still failed
// within WaitTimeout plus that T. Specs that judge T start their server
// with T itself (StartServer(0)).
func untimedIdle() time.Duration { return 10 * Settings.IdleTimeout }

// StartServer starts the server under test on 127.0.0.1 port 0 with the
// idle timeout idle (Settings.IdleTimeout if zero) and stops it when the
// spec ends. In address mode nothing is started: the running server keeps
// its own T, taken to be Settings.IdleTimeout whatever idle asks for, and
// its followed log, if any, is observed from now until the spec ends.
// Specs that need a particular T therefore ask AtOnce for their window.
func StartServer(idle time.Duration) *ServerUnderTest {
	GinkgoHelper()
	if Settings.Target != "" {
		s := &ServerUnderTest{Addr: Settings.Target, Idle: Settings.IdleTimeout, external: true, channel: ChannelWire}
		if targetLogged() {
			fl, err := targetLog.get()
			Expect(err).NotTo(HaveOccurred(), "following the running server's log")
			s.channel = ChannelLog
			cancel := fl.Subscribe(s.record)
			deferCleanup(cancel)
		}
		deferCleanup(s.checkTargetAfterFailure)
		return s
	}
	if idle == 0 {
		idle = Settings.IdleTimeout
	}
	p := serverSlot.plugin()
	rpc, err := p.Server()
	Expect(err).NotTo(HaveOccurred())

	serverSlot.blockIfProgramDead()
	// Start is a wait for something that should happen (a wrapped
	// program's readiness wait is --ready-timeout, 10 s by default, and
	// ends as soon as it is ready): it gets the plugin start's bound.
	start := func() (*contract.StartResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), max(Settings.StartTimeout, Settings.WaitTimeout))
		defer cancel()
		return rpc.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: uint32(idle.Milliseconds())})
	}
	resp, err := start()
	failIfPluginDied(serverSlot, p, err)
	if err != nil && serverSlot.ref() == execServerRef {
		// A wrapped program that failed to start once (a port another
		// program took at that moment, a start slowed past its bound by
		// the machine's load) is given one more start, on a fresh port,
		// before the failure counts: as a plugin that exited is launched
		// again.
		fmt.Fprintf(GinkgoWriter, "the server program did not start (%s); starting it once more\n", status.Convert(err).Message())
		resp, err = start()
		failIfPluginDied(serverSlot, p, err)
	}
	serverSlot.programStarted(err)
	if err != nil {
		// Cause first, in the adapter's words (never a struct dump).
		why := status.Convert(err).Message()
		if c := status.Code(err); c == codes.DeadlineExceeded || c == codes.Canceled {
			why = fmt.Sprintf("its Start call got no answer within %v (%s)", max(Settings.StartTimeout, Settings.WaitTimeout), why)
		}
		Fail("the server under test did not start: " + why)
	}
	_, port, err := net.SplitHostPort(resp.GetAddress())
	Expect(err).NotTo(HaveOccurred(), "the server's bound address %q", resp.GetAddress())
	Expect(port).NotTo(Equal("0"), "the server must report the port it actually bound")
	s := &ServerUnderTest{Addr: resp.GetAddress(), Idle: idle, plugin: p, caps: map[string]bool{}, channel: ChannelFull, stopped: make(chan struct{})}
	// Describe is optional; a server without it declares no capabilities.
	for _, c := range serverSlot.capabilities(p, rpc.Describe) {
		s.caps[c] = true
	}
	if s.caps[contract.CapabilityEventsFromLog] {
		s.channel = ChannelLog
	}

	streamCtx, stopStream := context.WithCancel(context.Background())
	stream, err := rpc.Events(streamCtx, &contract.EventsRequest{})
	Expect(p.Err("Events", err)).NotTo(HaveOccurred())
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		for {
			ev, err := stream.Recv()
			if err != nil {
				// A server that stopped serving on its own (a wrapped
				// program that exited) ends the stream saying why.
				if st, ok := status.FromError(err); ok && st.Code() == codes.Aborted {
					s.mu.Lock()
					s.exited = st.Message()
					s.mu.Unlock()
					close(s.stopped)
				}
				return
			}
			s.record(ev)
		}
	}()

	// Registered first, so run last (cleanups run in reverse): after Stop,
	// whose failure on a dead plugin waits for its exit to be seen.
	watchPlugin(serverSlot, p)
	deferCleanup(func() {
		// Stop is a wait for something that should happen (a wrapped
		// program is stopped and reaped): it gets Start's generous bound,
		// since a Stop cut short under load would leave the program
		// running into the next spec's Start.
		ctx, cancel := context.WithTimeout(context.Background(), max(Settings.StartTimeout, Settings.WaitTimeout))
		defer cancel()
		// A spec that did not fail leaves a correct server in a correct
		// state, so a server that is costly to start (a wrapped program)
		// may keep it for the next spec.
		reusable := !isInterrupted() && !CurrentSpecReport().Failed()
		_, err := rpc.Stop(ctx, &contract.StopRequest{Reusable: reusable})
		stopStream()
		<-streamDone
		// A wrapped program that died while the spec was not waiting on
		// an event (its failure seen on the wire) is told by the stream or
		// by Stop, which says that it had exited on its own.
		s.recordProgramExit(err)
		err = p.Err("Stop", err) // waits briefly for an exit to be seen
		if !p.Exited() {         // an exit is reported by watchPlugin
			Expect(err).NotTo(HaveOccurred(), "stopping the server")
		}
	})
	return s
}

// record keeps one observed event.
func (s *ServerUnderTest) record(ev *contract.ConnectionEvent) {
	s.mu.Lock()
	s.events = append(s.events, ev)
	if s.arrived != nil {
		close(s.arrived)
		s.arrived = nil
	}
	s.mu.Unlock()
}

// arrivals returns a channel closed at the next recorded event.
func (s *ServerUnderTest) arrivals() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.arrived == nil {
		s.arrived = make(chan struct{})
	}
	return s.arrived
}

// Events returns the events reported so far. On the wire channel there are
// none, and the spec is skipped as not observable.
func (s *ServerUnderTest) Events() []*contract.ConnectionEvent {
	s.requireEvents()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*contract.ConnectionEvent(nil), s.events...)
}

// ObservesReplies reports whether the server's events say what it wrote:
// only a plugin's own events do.
func (s *ServerUnderTest) ObservesReplies() bool { return s.channel == ChannelFull }

// ObservesRaw reports whether the server's events carry the raw bytes of
// the name: only a plugin's own events do; a log line carries the name as
// decoded (and escaped) by the server.
func (s *ServerUnderTest) ObservesRaw() bool { return s.channel == ChannelFull }

// Channel says what the suite observes of this server.
func (s *ServerUnderTest) Channel() Channel { return s.channel }

// requireEvents skips the spec as not observable when the channel carries
// no events.
func (s *ServerUnderTest) requireEvents() {
	if s.channel == ChannelWire {
		Skip(NotObservablePrefix + "the server's log and events are not observable in address mode without --target-log or --target-log-cmd")
	}
}

// EventsFrom returns the events whose peer is the given local address.
func (s *ServerUnderTest) EventsFrom(local string) []*contract.ConnectionEvent {
	var out []*contract.ConnectionEvent
	for _, ev := range s.Events() {
		if sameAddr(ev.GetRemoteAddress(), local) {
			out = append(out, ev)
		}
	}
	return out
}

// EventFor waits (up to wait, or WaitTimeout plus T if zero) for the first
// event of the connection whose local end is conn, and returns it. Whether
// the connection is reported exactly once is judged by ExpectReportedOnce,
// in the specs of the requirements that say so (SRV-LOG-1, SRV-CONC-2).
func (s *ServerUnderTest) EventFor(conn *wire.Conn, wait time.Duration) *contract.ConnectionEvent {
	GinkgoHelper()
	s.requireEvents()
	if wait == 0 {
		wait = Settings.WaitTimeout + s.Idle
	}
	what := "event"
	if s.channel == ChannelLog {
		what = "log line"
	}
	// Event-driven: each recorded event wakes the wait, so it ends the
	// moment the event arrives; a slow tick rechecks a followed log and a
	// server that stopped on its own.
	// It also ends the moment the server is known dead (its plugin process
	// or wrapped program exited): no event will come, and the death is the
	// cause to report.
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var died <-chan struct{}
	if s.plugin != nil {
		died = s.plugin.Done()
	}
	started := time.Now()
	for {
		arrived := s.arrivals()
		s.failIfLogLost()
		if evs := s.EventsFrom(conn.LocalAddr()); len(evs) > 0 {
			return evs[0]
		}
		s.failIfExited()
		select {
		case <-arrived:
		case <-died:
			// Events it sent before dying may still be on their way: the
			// stream delivers them before it breaks.
			if evs := s.EventsFrom(conn.LocalAddr()); len(evs) > 0 {
				return evs[0]
			}
			failDied(pluginDeath(serverSlot, s.plugin))
		case <-s.stopped:
		case <-tick.C:
			s.probeTargetWhileWaiting(started)
			if s.plugin != nil && died == nil && s.plugin.Exited() {
				// An attached plugin has no exit channel: it is polled.
				failDied(pluginDeath(serverSlot, s.plugin))
			}
		case <-deadline.C:
			evs := s.EventsFrom(conn.LocalAddr())
			Expect(evs).NotTo(BeEmpty(),
				"the server must report the connection from %s (awaited its %s for %v)", conn.LocalAddr(), what, wait)
			return evs[0]
		}
	}
}

// failIfExited stops the spec when the server stopped serving on its own:
// no event will come, and the reason (a wrapped program's exit status and
// last stderr line) is the cause to report.
func (s *ServerUnderTest) failIfExited() {
	GinkgoHelper()
	s.mu.Lock()
	why := s.exited
	s.mu.Unlock()
	if why != "" {
		failDied(Death{What: "the server program", Kind: DeathProgram, Evidence: why})
	}
}

// recordProgramExit records, for the verdict's cause, that the wrapped
// program stopped serving on its own during the spec, if it did and the
// spec has not recorded a death yet.
func (s *ServerUnderTest) recordProgramExit(stopErr error) {
	s.mu.Lock()
	why := s.exited
	s.mu.Unlock()
	if st, ok := status.FromError(stopErr); ok && stopErr != nil && why == "" {
		// The exec adapter's Stop of a program that had exited on its own.
		if msg, found := strings.CutPrefix(st.Message(), "exec server: "); found && strings.HasPrefix(msg, "the server program ") {
			why = msg
		}
	}
	if why != "" && !hasDeath(CurrentSpecReport()) {
		recordDeath(Death{What: "the server program", Kind: DeathProgram, Evidence: why})
	}
}

// failIfLogLost stops the spec when the followed log of address mode ended:
// its silence then says nothing about the server, so what it would have
// shown is not observable.
func (s *ServerUnderTest) failIfLogLost() {
	if !s.external || s.channel != ChannelLog {
		return
	}
	if fl, err := targetLog.get(); err == nil && fl.Err() != nil {
		Skip(NotObservablePrefix + "the running server's log can no longer be followed: " + fl.Err().Error())
	}
}

// Dial connects a probe client to the server. The connection is closed when
// the spec ends, and its transcript is attached to the report if it fails.
func (s *ServerUnderTest) Dial() *wire.Conn {
	GinkgoHelper()
	return s.dial("", "probe client %s -> server")
}

// dial connects a probe client, failing the spec if it cannot: with why
// added to the cause, and, for a target that stopped accepting, as its
// death (targetRefused). title names the transcript, %s standing for the
// probe's address.
func (s *ServerUnderTest) dial(why, title string) *wire.Conn {
	GinkgoHelper()
	conn, err := wire.Dial(s.Addr, Settings.WaitTimeout)
	if err != nil {
		if s.external {
			targetRefused(s.Addr, err, s.dialed)
		}
		Fail(dialFailure(s.Addr, err) + why)
	}
	s.dialed++
	if s.external {
		targetAccepted.Add(1)
	}
	attachTranscript(fmt.Sprintf(title, conn.LocalAddr()), conn)
	return conn
}

// Greet runs a conforming exchange from a probe client: send name, half
// close, read the reply until the server closes. It returns the connection
// (for its event) and what came back.
func (s *ServerUnderTest) Greet(name []byte) (*wire.Conn, wire.Result) {
	GinkgoHelper()
	conn := s.Dial()
	expectProbeOK(conn, conn.Send(name, Settings.WaitTimeout), "the name had ended", "sending the name")
	expectProbeOK(conn, conn.CloseWrite(), "the name had ended", "half-closing after the name")
	return conn, conn.ReadUntilEnd(0, Settings.WaitTimeout+s.Idle)
}

// ExpectServing checks that the server still greets a fresh client.
func (s *ServerUnderTest) ExpectServing() {
	GinkgoHelper()
	_, res := s.Greet([]byte("still-serving"))
	Expect(string(res.Data)).To(Equal(contract.Greeting), "%s to a later client; a later client must still be greeted", res.Did("the server"))
}

// PluginExitEntry names the report entry that says a plugin process went
// away during a spec.
const PluginExitEntry = "plugin exited"

// watchPlugin makes a spec in which the plugin process exited fail, and
// attaches how it exited, so that the report names the plugin and its exit
// even when the first failure was seen on the wire.
//
// A plugin that exited is also recorded as a death of the implementation
// under test (DeathEntry), so that the verdict states it once at the top.
func watchPlugin(sl *slot, p *host.Plugin) {
	deferCleanup(func() {
		if !p.Exited() {
			return
		}
		msg := p.Err("during the spec", errors.New("the plugin process is gone")).Error()
		AddReportEntry(PluginExitEntry, msg)
		if !hasDeath(CurrentSpecReport()) {
			d := pluginDeath(sl, p)
			if !CurrentSpecReport().Failed() {
				failDied(d)
			}
			recordDeath(d)
		}
	})
}

// failIfPluginDied fails the spec naming the plugin's death first when a
// call into it failed (err) because its process exited.
func failIfPluginDied(sl *slot, p *host.Plugin, err error) {
	GinkgoHelper()
	if err == nil {
		return
	}
	_ = p.Err("", err) // waits briefly for the exit to be seen
	if p.Exited() {
		failDied(pluginDeath(sl, p))
	}
}

// hasDeath reports whether the spec already recorded a death.
func hasDeath(sr SpecReport) bool {
	for _, e := range sr.ReportEntries {
		if e.Name == DeathEntry {
			return true
		}
	}
	return false
}

// attachTranscript adds conn's transcript to the spec report if the spec
// fails, and closes conn when the spec ends.
func attachTranscript(title string, conn *wire.Conn) {
	deferCleanup(func() {
		_ = conn.Close()
		if CurrentSpecReport().Failed() {
			AddReportEntry(TranscriptEntryPrefix+title, conn.Transcript().String())
		}
	})
}

// sameAddr compares two host:port addresses, tolerating IPv4-mapped forms.
func sameAddr(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb {
		return false
	}
	ia, ib := net.ParseIP(ha), net.ParseIP(hb)
	return ia != nil && ib != nil && ia.Equal(ib)
}

// describeEvent renders an event for failure messages.
func describeEvent(ev *contract.ConnectionEvent) string {
	return fmt.Sprintf("remote=%s name=%q raw=%x end=%s reply=%q log=%q error=%q",
		ev.GetRemoteAddress(), ev.GetName(), ev.GetNameRaw(), ev.GetNameEnd(), ev.GetReply(), ev.GetLogLine(), ev.GetError())
}
