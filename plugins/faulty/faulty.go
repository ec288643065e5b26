// Package faulty holds deliberately faulty implementations of the greeting
// protocol. Each registered Fault is otherwise correct and violates exactly
// the requirements it names, so that the self-test can prove every spec of
// the suite can fail, and fails for the right reason.
//
// There is one configurable server and one configurable client; a Fault is
// a set of switches on them. Each fault is served as the built-in plugin
// "faulty/<name>".
package faulty

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/greetspec/greetspec/core/contract"
)

// Fault is one deliberately broken implementation.
type Fault struct {
	// Name is label-safe and unique, for example "greeting-capitalised".
	Name string
	// Kills lists the requirement IDs this fault violates: their specs must
	// fail against it. Every other MUST spec of the same role must pass.
	Kills []string
	// Summary says in one line what is wrong.
	Summary string
	// Expect maps each requirement of Kills to a regular expression that
	// the first line of every failure of that requirement's specs against
	// this fault must match: the words or evidence that name the fault, so
	// that a failure blames what the implementation did (replied early,
	// closed, reset, sent nothing, logged a character raw) and not what
	// the harness's own calls returned.
	Expect map[string]string
	// Server or Client holds the switches; exactly one is set.
	Server *ServerFaults
	Client *ClientFaults
}

// Role returns "server" or "client".
func (f Fault) Role() string {
	if f.Server != nil {
		return "server"
	}
	return "client"
}

// Plugins returns the implementations to serve.
func (f Fault) Plugins() contract.Plugins {
	if f.Server != nil {
		return contract.Plugins{Server: &Server{Faults: *f.Server, Name: f.Name}}
	}
	return contract.Plugins{Client: &Client{Faults: *f.Client, Name: f.Name}}
}

var faults = map[string]Fault{}

// Register adds a fault; called from init. It panics on a malformed or
// duplicate fault, so a mistake shows at once.
func Register(f Fault) {
	if f.Name == "" || len(f.Kills) == 0 || (f.Server == nil) == (f.Client == nil) {
		panic(fmt.Sprintf("faulty: malformed fault %+v", f))
	}
	if len(f.Expect) != len(f.Kills) {
		panic(fmt.Sprintf("faulty: fault %s: Expect has %d phrases for %d killed requirements", f.Name, len(f.Expect), len(f.Kills)))
	}
	for _, id := range f.Kills {
		if _, err := regexp.Compile(f.Expect[id]); err != nil || f.Expect[id] == "" {
			panic(fmt.Sprintf("faulty: fault %s: Expect[%s] %q is not a non-empty regular expression", f.Name, id, f.Expect[id]))
		}
	}
	if _, dup := faults[f.Name]; dup {
		panic("faulty: duplicate fault " + f.Name)
	}
	faults[f.Name] = f
}

// All returns every fault, sorted by name.
func All() []Fault {
	out := make([]Fault, 0, len(faults))
	for _, f := range faults {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the named fault.
func Lookup(name string) (Fault, bool) {
	f, ok := faults[name]
	return f, ok
}

// expect builds a Fault's Expect from requirement ID and expression pairs.
func expect(pairs ...string) map[string]string {
	if len(pairs)%2 != 0 {
		panic("faulty: expect needs ID, expression pairs")
	}
	out := map[string]string{}
	for i := 0; i < len(pairs); i += 2 {
		out[pairs[i]] = pairs[i+1]
	}
	return out
}
