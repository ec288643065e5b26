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
// drain), with a floor for very short T.
func (s *ServerUnderTest) settleTime() time.Duration {
	return max(s.Idle, 500*time.Millisecond)
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
// started with the long T atOnceIdle gets WaitTimeout, far below T. In
// address mode the server keeps its own T (--idle-timeout), so the window
// is three quarters of it: an outcome after T could come from T itself.
func (s *ServerUnderTest) AtOnce() (time.Duration, string) {
	if s.Idle >= atOnceIdle {
		return Settings.WaitTimeout, fmt.Sprintf("within %v, far below T (%v)", Settings.WaitTimeout, s.Idle)
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

// get starts following on first use.
func (l *followedLog) get() (*logline.Follower, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fl != nil || l.err != nil {
		return l.fl, l.err
	}
	l.fl, l.err = StartTargetLog(Settings.TargetLog, Settings.TargetLogCmd, Settings.TargetLogPattern)
	return l.fl, l.err
}

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
