package specs

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/core/logline"
	"github.com/greetspec/greetspec/core/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Channel is what the suite can observe of a server under test. Every
// server spec asserts only what its channel carries, and reports what it
// cannot judge as NOT-OBSERVABLE (a skip with NotObservablePrefix) or
// PARTIAL (PartialEntry in a passing spec), never as a failure.
type Channel int

const (
	// ChannelFull is a plugin's own events: the raw bytes of the name, the
	// decoded name, what ended it, the reply written and the log line.
	ChannelFull Channel = iota
	// ChannelLog is the server's log lines: a wrapped program (capability
	// events-from-log) or a running server whose log is followed in address
	// mode. A line carries the peer's address and the name as the server
	// decoded and escaped it; no raw bytes, no reply, no end of the name,
	// and no line at all for a connection reset before its name ended.
	ChannelLog
	// ChannelWire is a running server in address mode without a followed
	// log: only the bytes and closes on the wire.
	ChannelWire
)

// String names the channel as the README's observability table does.
func (c Channel) String() string {
	switch c {
	case ChannelFull:
		return "plugin events"
	case ChannelLog:
		return "log lines"
	case ChannelWire:
		return "wire only"
	}
	return fmt.Sprintf("Channel(%d)", int(c))
}

// Partial marks the running spec as having verified only part of its check
// (PARTIAL), with the reason; the spec still fails on anything it did see.
func Partial(reason string) {
	AddReportEntry(PartialEntry, reason)
}

// settleTime is how long SRV-LOG-1 and SRV-CONC-2 keep watching after a
// connection was reported, to catch a second report of it: T, the longest
// a conforming server spends on a connection after its name ended (the
// drain). It is derived from T alone, as DesignedWaits states.
func (s *ServerUnderTest) settleTime() time.Duration {
	// A server given the long T of an "at once" spec settles within the
	// run's T all the same: T there only keeps a slow probe from racing it.
	return min(s.Idle, Settings.IdleTimeout)
}

// ExpectReportedOnce checks that the connection from conn, already
// reported, is not reported again during the settle time.
func (s *ServerUnderTest) ExpectReportedOnce(conn *wire.Conn) {
	GinkgoHelper()
	settle := s.settleTime()
	Consistently(func() int { return len(s.EventsFrom(conn.LocalAddr())) }).
		WithTimeout(settle).WithPolling(10*time.Millisecond).Should(Equal(1),
		"the server must report the connection from %s exactly once (watched for %v, the settle time T, after its first report)",
		conn.LocalAddr(), settle)
}

// AtOnce returns the window within which an outcome counts as "at once",
// that is not after waiting for T, with the reason to print. A server
// started with the long T atOnceIdle gets WaitTimeout (at most three
// quarters of T), far below T. In
// address mode the server keeps its own T (--idle-timeout), so the window
// is three quarters of it: an outcome after T could come from T itself.
func (s *ServerUnderTest) AtOnce() (time.Duration, string) {
	if s.Idle >= atOnceIdle {
		w := min(Settings.WaitTimeout, s.Idle*3/4)
		return w, fmt.Sprintf("within %v, far below T (%v)", w, s.Idle)
	}
	w := s.Idle * 3 / 4
	return w, fmt.Sprintf("within %v, three quarters of the server's T (%v; in address mode --idle-timeout, raise it to widen this window)", w, s.Idle)
}

// loggedVerbatim reports whether a log line must show name exactly as it
// is: a name with control characters, U+2028, U+2029 or a backslash may be
// written in the server's own escape syntax (SRV-LOG-2).
func loggedVerbatim(name string) bool {
	return !strings.ContainsFunc(name, func(r rune) bool { return isControl(r) || r == '\u2028' || r == '\u2029' || r == '\\' })
}

// expectNamed checks that ev names the connection with the decoded name
// want. A plugin's event must say it exactly. A log line must say it
// exactly too, unless the name has characters the server escapes in its own
// syntax: then every run of other characters must appear in order (the
// rule of SRV-LOG-2), and the check is reported as partial.
func (s *ServerUnderTest) expectNamed(ev *contract.ConnectionEvent, want, rule string) {
	GinkgoHelper()
	if s.channel == ChannelFull || loggedVerbatim(want) {
		Expect(ev.GetName()).To(Equal(want), "%s: %s", rule, describeEvent(ev))
		return
	}
	rest := ev.GetName()
	for _, run := range strings.FieldsFunc(want, func(r rune) bool { return !loggedVerbatim(string(r)) }) {
		i := strings.Index(rest, run)
		Expect(i).NotTo(BeNumerically("<", 0),
			"%s: the logged name must contain %+q of %+q, in order: %s", rule, run, want, describeEvent(ev))
		rest = rest[i+len(run):]
	}
	Partial(fmt.Sprintf("the name %+q has characters a log line shows in the server's own escape syntax; only the characters around them were compared", want))
}

// expectTaken checks that the server took the name's bytes raw, for specs
// on what makes up the name (not on how it is decoded, which is the UTF-8
// requirements' business): by the raw bytes where the channel carries them,
// else by the decoded name, the only trace of the bytes in a log line.
func (s *ServerUnderTest) expectTaken(ev *contract.ConnectionEvent, raw []byte, decoded, why string) {
	GinkgoHelper()
	if s.ObservesRaw() {
		s.expectRaw(ev, raw, why)
		return
	}
	s.expectNamed(ev, decoded, why)
}

// expectRaw checks the raw bytes of the name where the channel carries them.
func (s *ServerUnderTest) expectRaw(ev *contract.ConnectionEvent, want []byte, why string) {
	GinkgoHelper()
	if !s.ObservesRaw() {
		return
	}
	Expect(ev.GetNameRaw()).To(equalBytes(want), "%s: %s", why, describeEvent(ev))
}

// targetLogged reports whether address mode follows the server's log.
func targetLogged() bool { return Settings.TargetLog != "" || Settings.TargetLogCmd != "" }

// followedLog is the running server's log, followed once per suite process
// from the first spec that needs it until ClosePlugins.
type followedLog struct {
	mu  sync.Mutex
	fl  *logline.Follower
	err error
}

var targetLog = &followedLog{}

// get starts following on first use, and checks once that the log shows
// a line for a connection of the suite's own (PrepareTargetLog).
func (l *followedLog) get() (*logline.Follower, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fl != nil || l.err != nil {
		return l.fl, l.err
	}
	fl, err := StartTargetLog(Settings.TargetLog, Settings.TargetLogCmd, Settings.TargetLogPattern)
	if err == nil {
		if err = probeTargetLog(fl); err != nil {
			fl.Close()
			fl = nil
		}
	}
	l.fl, l.err = fl, err
	return fl, err
}

// PrepareTargetLog starts following the running server's log of address
// mode (Settings.TargetLog or TargetLogCmd) and checks that it works: a
// probe connection sends a name of its own, and its line must appear in
// the log. This also proves that a log command is under way, so that no
// spec's line is written before it is read. The log is then followed until
// ClosePlugins; an error means it cannot be observed, and nothing is left
// running.
func PrepareTargetLog() error {
	_, err := targetLog.get()
	return err
}

// probeTargetLog greets the target with a marker name, again every
// probeInterval (a log command may take a moment to start reading), until
// the line of one of these connections appears in the log or
// WaitTimeout plus T has passed.
func probeTargetLog(fl *logline.Follower) error {
	wait := Settings.WaitTimeout + Settings.IdleTimeout
	name := fmt.Sprintf("greetspec-log-probe-%d", time.Now().UnixNano())
	seen := make(chan struct{}, 1)
	cancel := fl.Subscribe(func(ev *contract.ConnectionEvent) {
		if ev.GetName() == name {
			select {
			case seen <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	deadline := time.Now().Add(wait)
	var locals []string
	for {
		conn, err := wire.Dial(Settings.Target, Settings.WaitTimeout)
		if err != nil {
			return fmt.Errorf("connecting to %s to check its log: %w", Settings.Target, err)
		}
		locals = append(locals, conn.LocalAddr())
		if err := conn.Send([]byte(name), Settings.WaitTimeout); err == nil {
			_ = conn.CloseWrite()
			conn.ReadUntilEnd(0, time.Until(deadline))
		}
		_ = conn.Close()
		select {
		case <-seen:
			return nil
		case <-time.After(min(probeInterval, max(0, time.Until(deadline)))):
		}
		if fl.Err() != nil || time.Now().After(deadline) {
			break
		}
	}
	what := "--target-log " + Settings.TargetLog
	if Settings.TargetLogCmd != "" {
		what = "--target-log-cmd " + Settings.TargetLogCmd
	}
	if err := fl.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: no log line for greetspec's probe connections (from %s, name %q) appeared within %v; check that this is the server's log and that --server-log-pattern matches its lines",
		what, strings.Join(locals, ", "), name, wait)
}

// probeInterval is the pause between probe connections of probeTargetLog.
const probeInterval = 250 * time.Millisecond

func (l *followedLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fl != nil {
		l.fl.Close()
	}
	l.fl, l.err = nil, nil
}

// StartTargetLog follows a running server's log: the file path from its end,
// or the standard output of command (split into words, no shell), parsing
// lines with pattern (logline.New). Exactly one of path and command is set.
func StartTargetLog(path, command, pattern string) (*logline.Follower, error) {
	p, err := logline.New(pattern)
	if err != nil {
		return nil, err
	}
	if path != "" {
		return logline.FollowFile(path, p)
	}
	argv, err := host.SplitWords(command)
	if err != nil {
		return nil, fmt.Errorf("log command %q: %w", command, err)
	}
	return logline.FollowCommand(argv, p)
}
