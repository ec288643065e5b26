package specs

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/hashicorp/go-hclog"
	. "github.com/onsi/ginkgo/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// slot holds the plugin process of one role for this suite process. It is
// launched on first use and launched again if it has exited, so that a
// plugin that crashes fails the spec it crashed in and not every later one.
type slot struct {
	role string
	mu   sync.Mutex
	p    *host.Plugin
	// started: a launch succeeded in this process; failed: launches that
	// failed in a row; dead: two did, after the plugin had started (here or
	// in greetspec run's preflight), so it can no longer be started and is
	// not tried again (each try could cost the start timeout).
	started bool
	failed  int
	dead    error
	// programUp: a wrapped program (the exec adapter's server) started in
	// this process; programDead: a start after that failed, so it can no
	// longer be started.
	programUp   bool
	programDead string
	// caps is what capsOf, the running plugin, declared for the role
	// (asked once per launch, see capabilities).
	capsOf *host.Plugin
	caps   []string
}

// execServerRef is the plugin greetspec run uses for --server-cmd: the exec
// adapter, whose Start starts the wrapped program.
const execServerRef = "builtin:exec"

// programStarted notes the outcome of a Start of the wrapped server program
// (only for the exec adapter: a native plugin that fails Start is judged
// for it). A program that started before in this process and now fails to
// start (or that greetspec run's preflight started) can no longer be
// started: the spec is blocked, and so are the later
// ones, at once, without trying again.
func (s *slot) programStarted(err error) {
	GinkgoHelper()
	if s.ref() != execServerRef {
		return
	}
	s.mu.Lock()
	if err == nil {
		s.programUp = true
		s.mu.Unlock()
		return
	}
	if s.programUp || Settings.Preflighted { // greetspec run started it once before the suite
		s.programDead = status.Convert(err).Message()
	}
	s.mu.Unlock()
	s.blockIfProgramDead()
}

// blockIfProgramDead blocks the spec when the wrapped program can no
// longer be started.
func (s *slot) blockIfProgramDead() {
	GinkgoHelper()
	s.mu.Lock()
	why := s.programDead
	s.mu.Unlock()
	if why != "" {
		blockSpec(Death{What: "the " + s.role + " program", Kind: DeathProgram, Evidence: "could no longer be started: " + why})
	}
}

var (
	serverSlot = &slot{role: "server"}
	clientSlot = &slot{role: "client"}
)

func (s *slot) ref() string {
	if s.role == "server" {
		return Settings.Server
	}
	return Settings.Client
}

// what names the slot's plugin in causes: "the server plugin builtin:NAME".
func (s *slot) what() string { return fmt.Sprintf("the %s plugin %s", s.role, s.ref()) }

// get returns the running plugin, launching it if needed.
func (s *slot) get() (*host.Plugin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.Exited() {
		return s.p, nil
	}
	if s.dead != nil {
		return nil, s.dead
	}
	if s.p != nil {
		s.p.Close()
		s.p = nil
	}
	exe, err := self()
	if err != nil {
		return nil, err
	}
	spec, err := host.ParseRef(s.ref(), exe)
	if err != nil {
		return nil, fmt.Errorf("%s plugin: %w", s.role, err)
	}
	p, err := host.Launch(spec, LaunchOptions())
	if err != nil {
		if s.failed++; s.failed >= 2 && s.canDie() {
			s.dead = err
		}
		return nil, err
	}
	s.p, s.started, s.failed = p, true, 0
	return p, nil
}

// LaunchOptions are the options plugins under test are launched with. By
// default a plugin's log goes to the spec output, which Ginkgo shows with
// the spec that failed (or always, with -v); debug level, because
// go-plugin passes a plugin's plain stderr lines on at that level.
func LaunchOptions() host.Options {
	return host.Options{StartTimeout: Settings.StartTimeout, Log: pluginLog(), LogLevel: hclog.Debug}
}

// PreflightOptions are LaunchOptions for the plugins greetspec run launches
// before the suite to check them: their log is dropped (before RunSpecs,
// GinkgoWriter would print it) until Adopt makes one of them the suite's.
func PreflightOptions() host.Options {
	o := LaunchOptions()
	o.Log = &preflightLog
	return o
}

// pluginLog is where the suite's plugins write their log.
func pluginLog() io.Writer {
	if Settings.PluginLog != nil {
		return Settings.PluginLog
	}
	return GinkgoWriter
}

// preflightLog is the log of the plugins launched before the suite: off
// until Adopt, then the suite's.
var preflightLog adoptedLog

type adoptedLog struct{ on atomic.Bool }

func (l *adoptedLog) Write(b []byte) (int, error) {
	if !l.on.Load() {
		return len(b), nil
	}
	return pluginLog().Write(b)
}

// Adopt makes p, a plugin already launched and checked by greetspec run,
// the running plugin of role ("server" or "client") in this process, so
// that the suite does not launch it a second time. The suite closes it
// with the others (ClosePlugins).
func Adopt(role string, p *host.Plugin) {
	s := clientSlot
	if role == "server" {
		s = serverSlot
	}
	preflightLog.on.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		s.p.Close()
	}
	s.p, s.started, s.failed = p, true, 0
}

// canDie reports whether a failed launch means the plugin died: it had
// started before, in this process or in greetspec run's preflight. A plugin
// that never started is a setup error instead. Called with s.mu held.
func (s *slot) canDie() bool { return s.started || Settings.Preflighted }

// plugin returns the running plugin of the slot's role, launching it if
// needed. A plugin that cannot be started, after it had started before,
// blocks the spec: nothing can be judged without it.
func (s *slot) plugin() *host.Plugin {
	GinkgoHelper()
	p, err := s.get()
	if err != nil {
		s.mu.Lock()
		dead := s.canDie()
		s.mu.Unlock()
		if dead {
			blockSpec(Death{What: s.what(), Kind: DeathPlugin,
				Evidence: "could no longer be started: " + err.Error()})
		}
		Fail(fmt.Sprintf("launching the %s plugin: %v", s.role, err))
	}
	return p
}

// Prelaunch starts launching the plugins of the given roles ("server",
// "client") at once, each in the background, and returns: a spec that needs
// one waits for its launch instead of starting it. A launch that fails is
// retried, and reported, by the first spec that needs the plugin.
func Prelaunch(roles ...string) {
	for _, r := range roles {
		var s *slot
		switch {
		case r == "server" && Settings.Server != "" && Settings.Target == "":
			s = serverSlot
		case r == "client" && Settings.Client != "":
			s = clientSlot
		default:
			continue
		}
		prelaunching.Add(1)
		go func() { defer prelaunching.Done(); _, _ = s.get() }()
	}
}

// prelaunching counts the launches Prelaunch started; ClosePlugins waits
// for them, so that none ends after the plugins were closed.
var prelaunching sync.WaitGroup

// close ends the plugin, if any.
func (s *slot) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		s.p.Close()
		s.p = nil
	}
}

// ClosePlugins ends every plugin process this suite process started. The
// suite calls it after all specs; a runner that stops early calls it too.
func ClosePlugins() {
	prelaunching.Wait()
	// Each close waits for its plugin to exit: side by side, the run ends
	// as soon as the slower of the two is gone.
	var closing sync.WaitGroup
	for _, s := range []*slot{serverSlot, clientSlot} {
		closing.Add(1)
		go func() { defer closing.Done(); s.close() }()
	}
	targetLog.close()
	closing.Wait()
}

var _ = AfterSuite(ClosePlugins)

// capabilities returns what the slot's plugin p declares for the role,
// asking it with describe once per launch: what a running plugin declares
// does not change, and asking at every spec was a quarter of the calls a
// server spec makes. Describe is optional: a plugin without it (or whose
// Describe fails) declares none. Only an answer, or a plugin that does not
// implement Describe, is kept; any other failure is asked again at the
// next spec.
func (s *slot) capabilities(p *host.Plugin, describe func(context.Context, *contract.DescribeRequest, ...grpc.CallOption) (*contract.DescribeResponse, error)) []string {
	s.mu.Lock()
	if s.capsOf == p {
		defer s.mu.Unlock()
		return s.caps
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), Settings.WaitTimeout)
	defer cancel()
	d, err := describe(ctx, &contract.DescribeRequest{})
	if err == nil || status.Code(err) == codes.Unimplemented {
		s.mu.Lock()
		s.capsOf, s.caps = p, d.GetCapabilities()
		s.mu.Unlock()
	}
	return d.GetCapabilities()
}
