package specs

import (
	"flag"
	"io"
	"os"
	"time"
)

// Config is what the suite runs against and how long it waits. Set it
// before RunSpecs; the suite reads it in its nodes, never at load time.
type Config struct {
	// Server and Client are plugin references (see host.ParseRef) for the
	// implementations under test; an empty one leaves that role untested.
	Server, Client string
	// Target is the address of an already running server to test instead
	// of a server plugin ("address mode"). Its idle timeout is taken to be
	// IdleTimeout. Without a followed log only the wire is observed.
	Target string
	// TargetLog is a file the running server logs to; it is followed from
	// its end (like tail -F), so that its log lines are observed.
	TargetLog string
	// TargetLogCmd is a command (no shell; quotes group words) whose
	// standard output is the running server's log, for example
	// `journalctl -f -u NAME` or `docker logs -f NAME`.
	TargetLogCmd string
	// TargetLogPattern parses the followed log's lines (logline.New); empty
	// means the protocol's `connected with: <address> <name>` line.
	TargetLogPattern string
	// Self is the executable that serves "builtin:" plugins; empty means the
	// running binary.
	Self string
	// IdleTimeout is T, passed to every server under test.
	IdleTimeout time.Duration
	// WaitTimeout bounds every wait for an outcome that should come promptly
	// (a reply, an event, a close). Waits that involve T add T to it. Such a
	// wait ends as soon as the outcome comes, so a generous bound costs a
	// correct implementation nothing and keeps a loaded machine from failing
	// it; waits that judge that something did NOT happen are derived from
	// T instead, and say so.
	WaitTimeout time.Duration
	// Gap is the pause between the pieces of a name or reply written in
	// pieces; it must be well below IdleTimeout.
	Gap time.Duration
	// StartTimeout bounds a plugin's start and handshake.
	StartTimeout time.Duration
	// PluginLog receives the plugins' own log output; nil sends it to the
	// spec output (GinkgoWriter), shown with failed specs.
	PluginLog io.Writer `json:"-"`
	// Preflighted is set when the plugins under test were started, and the
	// target connected to, once before the suite (greetspec run does): a
	// plugin that can then not be started, or a target that refuses, is
	// dead, and the specs that need it are blocked rather than failed.
	Preflighted bool
}

// DefaultIdleTimeout is the default T. Every designed wait of the suite is
// a multiple of T or of the gap (see DesignedWaits), so T sets the suite's
// floor; 200 ms keeps it low and still far above the scheduling delays of
// a loaded machine (BENCHMARKS.md records the runs under a CPU hog that
// chose it).
const DefaultIdleTimeout = 200 * time.Millisecond

// DefaultConfig tests the bundled reference plugins with timings that keep
// the suite fast: short designed waits (T, gap) and a generous bound
// (WaitTimeout) on every wait for an outcome that should come, which ends
// as soon as the outcome comes and so costs nothing.
func DefaultConfig() Config {
	return Config{
		Server:       "builtin:reference",
		Client:       "builtin:reference",
		IdleTimeout:  DefaultIdleTimeout,
		WaitTimeout:  10 * time.Second,
		Gap:          10 * time.Millisecond,
		StartTimeout: 20 * time.Second,
	}
}

// Settings is the configuration the suite runs with.
var Settings = DefaultConfig()

// RegisterFlags binds Settings to flags in fs, so a compiled suite (go test,
// ginkgo) takes them after `--`: for example
// `go tool ginkgo ./specs -- -server=builtin:reference -idle-timeout=2s`.
func RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&Settings.Server, "server", Settings.Server, "server plugin under test (builtin:NAME or a command line); empty skips the server specs")
	fs.StringVar(&Settings.Client, "client", Settings.Client, "client plugin under test (builtin:NAME or a command line); empty skips the client specs")
	fs.StringVar(&Settings.Target, "target", Settings.Target, "address (host:port) of a running server to test instead of a server plugin")
	fs.StringVar(&Settings.TargetLog, "target-log", Settings.TargetLog, "in address mode, a file the running server logs to (followed from its end)")
	fs.StringVar(&Settings.TargetLogCmd, "target-log-cmd", Settings.TargetLogCmd, "in address mode, a command whose output is the running server's log")
	fs.StringVar(&Settings.TargetLogPattern, "target-log-pattern", Settings.TargetLogPattern, "regexp with groups addr and name for the followed log's lines")
	fs.DurationVar(&Settings.IdleTimeout, "idle-timeout", Settings.IdleTimeout, "idle timeout T passed to servers under test")
	fs.DurationVar(&Settings.WaitTimeout, "wait-timeout", Settings.WaitTimeout, "bound on every wait for a prompt outcome")
	fs.DurationVar(&Settings.Gap, "gap", Settings.Gap, "pause between pieces written separately")
	fs.DurationVar(&Settings.StartTimeout, "start-timeout", Settings.StartTimeout, "bound on a plugin's start and handshake")
}

// self returns the executable that serves built-in plugins.
func self() (string, error) {
	if Settings.Self != "" {
		return Settings.Self, nil
	}
	return os.Executable()
}

// serverUnderTest reports whether the run tests a server at all.
func serverUnderTest() bool { return Settings.Server != "" || Settings.Target != "" }
