// Package builtin is the registry of plugins compiled into greetspec
// binaries. A binary that calls ServeIfRequested at the top of main (or of
// TestMain) can be launched as any of them, so `go install` gives a
// self-contained tool and tests need no separate plugin builds.
package builtin

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/plugins/alt"
	execadapter "github.com/greetspec/greetspec/plugins/exec"
	"github.com/greetspec/greetspec/plugins/faulty"
	"github.com/greetspec/greetspec/plugins/hostile"
	"github.com/greetspec/greetspec/plugins/reference"
)

// Entry is one built-in plugin.
type Entry struct {
	// Name is what follows "builtin:" in a plugin reference.
	Name string
	// Summary says in one line what the plugin is.
	Summary string
	// Role is "server" or "client" for a plugin that serves one role
	// only; empty means both.
	Role string
	// New builds the implementations; it may read its configuration from
	// the environment and fail.
	New func() (contract.Plugins, error)
}

var registry = map[string]Entry{}

// Register adds an entry; it panics on a duplicate name. Called from init.
func Register(e Entry) {
	if _, dup := registry[e.Name]; dup {
		panic("builtin: duplicate plugin " + e.Name)
	}
	registry[e.Name] = e
}

// Lookup returns the named entry.
func Lookup(name string) (Entry, bool) {
	e, ok := registry[name]
	return e, ok
}

// All returns every entry, sorted by name.
func All() []Entry {
	out := make([]Entry, 0, len(registry))
	for _, e := range registry {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ServeIfRequested serves the built-in plugin named by the environment
// variable contract.BuiltinEnv and exits; without it, it returns at once.
func ServeIfRequested() {
	name, ok := os.LookupEnv(contract.BuiltinEnv)
	if !ok {
		return
	}
	e, ok := Lookup(name)
	if !ok {
		fmt.Fprintf(os.Stderr, "greetspec: no built-in plugin %q\n", name)
		os.Exit(2)
	}
	p, err := e.New()
	if err != nil {
		fmt.Fprintf(os.Stderr, "greetspec: built-in plugin %s: %v\n", name, err)
		os.Exit(2)
	}
	if path := os.Getenv(CPUProfileEnv); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
		}
	}
	contract.Serve(p)
	pprof.StopCPUProfile() // writes the profile, if one was started
	os.Exit(0)
}

// CPUProfileEnv, when set for a built-in plugin, names the file its CPU
// profile is written to when it is shut down (greetspec bench --cpuprofile).
const CPUProfileEnv = "GREETSPEC_CPUPROFILE"

func init() {
	Register(Entry{
		Name:    "reference",
		Summary: "the reference server and client (conform to every MUST and SHOULD)",
		New: func() (contract.Plugins, error) {
			return contract.Plugins{Server: &reference.Server{}, Client: reference.Client{}}, nil
		},
	})
	Register(Entry{
		Name:    "alt/eventloop-server",
		Role:    "server",
		Summary: "an alternative correct server: one goroutine owns every connection, the greeting goes out in two writes",
		New: func() (contract.Plugins, error) {
			return contract.Plugins{Server: &alt.EventLoopServer{}}, nil
		},
	})
	Register(Entry{
		Name:    "alt/bytewise-client",
		Role:    "client",
		Summary: "an alternative correct client: writes the name in small pieces, reads the reply byte by byte in deadline slices",
		New: func() (contract.Plugins, error) {
			return contract.Plugins{Client: alt.BytewiseClient{}}, nil
		},
	})
	Register(Entry{
		Name:    "exec",
		Summary: "adapter wrapping an existing program, configured by GREETSPEC_EXEC_* variables (see run --server-cmd)",
		New:     execadapter.PluginsFromEnv,
	})
	for _, e := range []Entry{
		{Name: "hostile/exit-on-connection", Role: "server", Summary: "server plugin that exits on its first connection (tests the host)",
			New: func() (contract.Plugins, error) { return contract.Plugins{Server: hostile.ExitOnConnection{}}, nil }},
		{Name: "hostile/duplicate-events", Role: "server", Summary: "the reference server reporting every connection twice, 100 ms apart, well inside the settle time T (SRV-LOG-1, SRV-CONC-2 must fail)",
			New: func() (contract.Plugins, error) {
				return contract.Plugins{Server: &hostile.DuplicateEvents{Inner: &reference.Server{}}}, nil
			}},
		{Name: "hostile/flood", Role: "server", Summary: "the reference server flooding its log (256 KiB of noise, escape sequences included) and inventing 100 connections per real one (tests the host's bounds)",
			New: func() (contract.Plugins, error) {
				return contract.Plugins{Server: &hostile.Flood{Inner: &reference.Server{}}}, nil
			}},
		{Name: "hostile/exit-in-greet", Role: "client", Summary: "client plugin that exits when asked to greet (tests the host)",
			New: func() (contract.Plugins, error) { return contract.Plugins{Client: hostile.ExitInGreet{}}, nil }},
		{Name: "hostile/hang-in-greet", Role: "client", Summary: "client plugin whose Greet never returns (tests the host)",
			New: func() (contract.Plugins, error) { return contract.Plugins{Client: hostile.HangInGreet{}}, nil }},
		{Name: "hostile/fork-daemon", Role: "server", Summary: "reference server that leaves a child and a double-forked daemon listening on a port (tests containment)",
			New: func() (contract.Plugins, error) {
				s, err := hostile.NewForkDaemon(&reference.Server{})
				if err != nil {
					return contract.Plugins{}, err
				}
				return contract.Plugins{Server: s}, nil
			}},
		{Name: "hostile/stall-tls", Summary: "plugin that sends a valid handshake line and then stalls the TLS handshake (tests --start-timeout)",
			New: func() (contract.Plugins, error) { hostile.StallTLSHandshake(); return contract.Plugins{}, nil }},
		{Name: "hostile/ansi-output", Role: "client", Summary: "client plugin that prints terminal escape sequences and returns them as its reply (tests escaping)",
			New: func() (contract.Plugins, error) {
				return contract.Plugins{Client: hostile.ANSIClient{Mode: "reply"}}, nil
			}},
	} {
		Register(e)
	}
	for _, f := range faulty.All() {
		Register(Entry{
			Name:    "faulty/" + f.Name,
			Role:    f.Role(),
			Summary: "faulty " + f.Role() + ", violates " + strings.Join(f.Kills, ", ") + ": " + f.Summary,
			New:     func() (contract.Plugins, error) { return f.Plugins(), nil },
		})
	}
}
