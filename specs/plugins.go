package specs

import (
	"fmt"
	"sync"

	"github.com/greetspec/greetspec/core/host"
	"github.com/hashicorp/go-hclog"
	. "github.com/onsi/ginkgo/v2"
)

// slot holds the plugin process of one role for this suite process. It is
// launched on first use and launched again if it has exited, so that a
// plugin that crashes fails the spec it crashed in and not every later one.
type slot struct {
	role string
	mu   sync.Mutex
	p    *host.Plugin
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

// get returns the running plugin, launching it if needed.
func (s *slot) get() (*host.Plugin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.Exited() {
		return s.p, nil
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
		return nil, err
	}
	s.p = p
	return p, nil
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
	serverSlot.close()
	clientSlot.close()
	targetLog.close()
}

var _ = AfterSuite(ClosePlugins)
