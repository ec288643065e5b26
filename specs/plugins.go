package specs

import (
	"fmt"
	"sync"

	"github.com/greetspec/greetspec/core/host"
	"github.com/hashicorp/go-hclog"
	. "github.com/onsi/ginkgo/v2"
	"google.golang.org/grpc/status"
)

// slot holds the plugin process of one role for this suite process. It is
// launched on first use and launched again if it has exited, so that a
// plugin that crashes fails the spec it crashed in and not every later one.
type slot struct {
	role string
	mu   sync.Mutex
	p    *host.Plugin
	// started: a launch succeeded in this process; dead: the launch after
	// it failed, so the plugin can no longer be started and is not tried
	// again (each try could cost the start timeout).
	started bool
	dead    error
	// programUp: a wrapped program (the exec adapter's server) started in
	// this process; programDead: a start after that failed, so it can no
	// longer be started.
	programUp   bool
	programDead string
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
	// By default a plugin's log goes to the spec output, which Ginkgo shows
	// with the spec that failed (or always, with -v); debug level, because
	// go-plugin passes a plugin's plain stderr lines on at that level.
	log := Settings.PluginLog
	if log == nil {
		log = GinkgoWriter
	}
	p, err := host.Launch(spec, host.Options{StartTimeout: Settings.StartTimeout, Log: log, LogLevel: hclog.Debug})
	if err != nil {
		if s.started || Settings.Preflighted {
			s.dead = err
		}
		return nil, err
	}
	s.p, s.started = p, true
	return p, nil
}

// plugin returns the running plugin of the slot's role, launching it if
// needed. A plugin that can no longer be started, after it had started
// before, blocks the spec: nothing can be judged without it.
func (s *slot) plugin() *host.Plugin {
	GinkgoHelper()
	p, err := s.get()
	if err != nil {
		s.mu.Lock()
		dead := s.dead != nil
		s.mu.Unlock()
		if dead {
			blockSpec(Death{What: s.what(), Kind: DeathPlugin,
				Evidence: "could no longer be started: " + err.Error()})
		}
		Fail(fmt.Sprintf("launching the %s plugin: %v", s.role, err))
	}
	return p
}

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
	serverSlot.close()
	clientSlot.close()
	targetLog.close()
}

var _ = AfterSuite(ClosePlugins)
