// Package interop runs real clients against real servers, with nothing in
// between, and reports who interoperates with whom (`greetspec matrix`).
// Each cell of the matrix is one client plugin greeting one server plugin
// with names drawn from fixtures/; the cell is green when every exchange
// gave the client the greeting and the server the name, red when one did
// not, and partial when one side could not observe part of an exchange.
package interop

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/fixtures"
	"google.golang.org/grpc"
)

// Impl is one implementation in the matrix.
type Impl struct {
	// Ref is how the user named it: a plugin reference or cmd:TEMPLATE.
	Ref string
	// Spec is how to launch it.
	Spec host.Spec
}

// Case is one name a client sends.
type Case struct {
	// ID names the case in reports.
	ID string
	// Name is the name given to the client.
	Name string
	// TooLong says the client must refuse the name (over 1024 bytes).
	TooLong bool
}

// Cases returns the names every pair exchanges: ASCII, multi-byte
// characters of each length, the empty name, exactly 1024 bytes, and one
// byte over the limit, which the client must refuse. (Invalid UTF-8 is not
// among them: a client is given its name as text.)
func Cases() []Case {
	var out []Case
	for _, n := range fixtures.Names() {
		switch n.ID {
		case "ascii", "empty", "two-byte-zoe", "three-byte-nihon", "four-byte-emoji", "mixed-all-lengths":
			out = append(out, Case{ID: n.ID, Name: n.Name})
		}
	}
	for _, l := range fixtures.Lengths() {
		switch l.TotalBytes {
		case contract.MaxNameBytes:
			out = append(out, Case{ID: l.ID, Name: string(l.Bytes)})
		case contract.MaxNameBytes + 1:
			out = append(out, Case{ID: l.ID, Name: string(l.Bytes), TooLong: true})
		}
	}
	return out
}

// Outcome is a cell's or an exchange's result.
type Outcome string

// Outcomes of a cell or an exchange.
const (
	OK      Outcome = "OK"
	Fail    Outcome = "FAIL"
	Partial Outcome = "PARTIAL"
)

// Exchange is one name sent by one client to one server.
type Exchange struct {
	Case    string  `json:"case"`
	Outcome Outcome `json:"outcome"`
	// Problem says what went wrong or was not observed.
	Problem string `json:"problem,omitempty"`
	// Client is what the client returned.
	Client string `json:"client"`
	// Server is what the server reported.
	Server string `json:"server"`
}

// Cell is one client against one server.
type Cell struct {
	Server    string     `json:"server"`
	Client    string     `json:"client"`
	Outcome   Outcome    `json:"outcome"`
	Problem   string     `json:"problem,omitempty"`
	Exchanges []Exchange `json:"exchanges,omitempty"`
}

// Matrix is the result of a run: every cell, in server-major order.
type Matrix struct {
	Servers []string `json:"servers"`
	Clients []string `json:"clients"`
	Cells   []Cell   `json:"cells"`
	// Shard is "i/n" when the matrix holds only a shard's cells.
	Shard string `json:"shard,omitempty"`
	// Conformance holds each implementation's own verdict, if run: ref ->
	// summary.
	Conformance map[string]string `json:"conformance,omitempty"`
}

// Options tune Run.
type Options struct {
	// Idle is T passed to servers.
	Idle time.Duration
	// Timeout bounds each client's exchange and each wait for a server's
	// report.
	Timeout time.Duration
	// StartTimeout bounds each plugin launch.
	StartTimeout time.Duration
	// Parallel is how many pairs run at once (at least 1).
	Parallel int
	// Shard, Shards select cells i with i % Shards == Shard (Shards 0: all).
	Shard, Shards int
	// Progress is called after each cell, if set.
	Progress func(done, total int, c Cell)
}

// Run runs every selected pair. It never fails as a whole: a pair whose
// plugins cannot start is a red cell that says why.
func Run(servers, clients []Impl, o Options) Matrix {
	m := Matrix{}
	for _, s := range servers {
		m.Servers = append(m.Servers, s.Ref)
	}
	for _, c := range clients {
		m.Clients = append(m.Clients, c.Ref)
	}
	if o.Shards > 0 {
		m.Shard = fmt.Sprintf("%d/%d", o.Shard+1, o.Shards)
	}
	type job struct {
		s, c Impl
		i    int
	}
	var jobs []job
	for si, s := range servers {
		for ci, c := range clients {
			i := si*len(clients) + ci
			if o.Shards > 0 && i%o.Shards != o.Shard {
				continue
			}
			jobs = append(jobs, job{s, c, len(jobs)})
		}
	}
	cells := make([]Cell, len(jobs))
	sem := make(chan struct{}, max(1, o.Parallel))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cell := runPair(j.s, j.c, o)
			cells[j.i] = cell
			mu.Lock()
			done++
			if o.Progress != nil {
				o.Progress(done, len(jobs), cell)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	m.Cells = cells
	return m
}

// Merge combines shards of one matrix into one.
func Merge(parts []Matrix) (Matrix, error) {
	if len(parts) == 0 {
		return Matrix{}, fmt.Errorf("nothing to merge")
	}
	out := Matrix{Servers: parts[0].Servers, Clients: parts[0].Clients, Conformance: map[string]string{}}
	seen := map[[2]string]bool{}
	for _, p := range parts {
		if strings.Join(p.Servers, "\x00") != strings.Join(out.Servers, "\x00") || strings.Join(p.Clients, "\x00") != strings.Join(out.Clients, "\x00") {
			return Matrix{}, fmt.Errorf("the shards list different implementations")
		}
		for _, c := range p.Cells {
			k := [2]string{c.Server, c.Client}
			if seen[k] {
				return Matrix{}, fmt.Errorf("cell %s x %s appears in two shards", c.Client, c.Server)
			}
			seen[k] = true
			out.Cells = append(out.Cells, c)
		}
		for k, v := range p.Conformance {
			out.Conformance[k] = v
		}
	}
	if len(out.Conformance) == 0 {
		out.Conformance = nil
	}
	order := map[string]int{}
	for i, s := range out.Servers {
		for j, c := range out.Clients {
			order[s+"\x00"+c] = i*len(out.Clients) + j
		}
	}
	sort.SliceStable(out.Cells, func(a, b int) bool {
		return order[out.Cells[a].Server+"\x00"+out.Cells[a].Client] < order[out.Cells[b].Server+"\x00"+out.Cells[b].Client]
	})
	if want := len(out.Servers) * len(out.Clients); len(out.Cells) != want {
		return out, fmt.Errorf("the shards hold %d of the %d cells", len(out.Cells), want)
	}
	return out, nil
}

// Cell returns the cell of server s and client c, if present.
func (m Matrix) Cell(s, c string) (Cell, bool) {
	for _, cell := range m.Cells {
		if cell.Server == s && cell.Client == c {
			return cell, true
		}
	}
	return Cell{}, false
}

// Tally counts cells by outcome.
func (m Matrix) Tally() map[Outcome]int {
	t := map[Outcome]int{}
	for _, c := range m.Cells {
		t[c.Outcome]++
	}
	return t
}

// runPair launches both plugins, starts the server and greets it once per
// case.
func runPair(s, c Impl, o Options) Cell {
	cell := Cell{Server: s.Ref, Client: c.Ref}
	fail := func(format string, args ...any) Cell {
		cell.Outcome, cell.Problem = Fail, fmt.Sprintf(format, args...)
		return cell
	}
	sp, err := host.Launch(s.Spec, host.Options{StartTimeout: o.StartTimeout})
	if err != nil {
		return fail("server: %v", err)
	}
	defer sp.Close()
	cp, err := host.Launch(c.Spec, host.Options{StartTimeout: o.StartTimeout})
	if err != nil {
		return fail("client: %v", err)
	}
	defer cp.Close()
	srv, err := sp.Server()
	if err != nil {
		return fail("server: %v", err)
	}
	cli, err := cp.Client()
	if err != nil {
		return fail("client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout)
	defer cancel()
	started, err := srv.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0", IdleTimeoutMs: uint32(o.Idle.Milliseconds())})
	if err != nil {
		return fail("server did not start: %v", sp.Err("Start", err))
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), o.Timeout)
		defer scancel()
		_, _ = srv.Stop(sctx, &contract.StopRequest{})
	}()
	events := watchEvents(srv)
	defer events.stop()
	clientCaps := capabilities(cli.Describe)

	cell.Outcome = OK
	for _, k := range Cases() {
		ex := exchange(cli, started.GetAddress(), k, events, o, clientCaps)
		cell.Exchanges = append(cell.Exchanges, ex)
		switch {
		case ex.Outcome == Fail:
			cell.Outcome = Fail
		case ex.Outcome == Partial && cell.Outcome == OK:
			cell.Outcome = Partial
		}
	}
	return cell
}

// exchange greets the server through the client once and judges both ends.
func exchange(cli contract.GreetClientClient, addr string, k Case, events *eventWatch, o Options, clientCaps map[string]bool) Exchange {
	ex := Exchange{Case: k.ID, Outcome: OK}
	before := events.count()
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout+o.Timeout)
	defer cancel()
	resp, err := cli.Greet(ctx, &contract.GreetRequest{Address: addr, Name: k.Name, TimeoutMs: uint32(o.Timeout.Milliseconds())})
	if err != nil {
		ex.Outcome, ex.Problem, ex.Client = Fail, "the client plugin failed", err.Error()
		return ex
	}
	ex.Client = describeResponse(resp)
	if k.TooLong {
		if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG {
			ex.Outcome, ex.Problem = Fail, "the client must refuse a name over 1024 bytes (NAME_TOO_LONG)"
		}
		if ev := events.waitAfter(before, o.Idle+time.Second); ev != nil {
			ex.Outcome, ex.Problem, ex.Server = Fail, "the client sent part of a name over 1024 bytes", describeEvent(ev)
		} else {
			ex.Server = "no connection reported"
		}
		return ex
	}
	ev := events.waitAfter(before, o.Timeout+o.Idle)
	if ev == nil {
		ex.Server = "no connection reported"
	} else {
		ex.Server = describeEvent(ev)
	}
	var problems []string
	if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_NONE {
		problems = append(problems, "the client reported "+resp.GetErrorClass().String())
	} else if got := replyText(resp, clientCaps); got != contract.Greeting {
		problems = append(problems, fmt.Sprintf("the client returned %q, not the greeting", got))
	}
	if ev == nil {
		problems = append(problems, fmt.Sprintf("the server reported no connection within %v", o.Timeout+o.Idle))
	} else if got, want := ev.GetName(), k.Name; got != want {
		// None of the names has a control character, so even a server seen
		// through its log line reports them exactly.
		problems = append(problems, fmt.Sprintf("the server took the name %q, not %q", abbreviate(got), abbreviate(want)))
	}
	if len(problems) > 0 {
		ex.Outcome, ex.Problem = Fail, strings.Join(problems, "; ")
	}
	return ex
}

// replyText is the client's reply as text: the printed text of a
// client-text client, else the bytes decoded.
func replyText(resp *contract.GreetResponse, caps map[string]bool) string {
	if caps[contract.CapabilityClientText] {
		return strings.TrimRight(string(resp.GetReply()), "\r\n")
	}
	return string(resp.GetReply())
}

func capabilities(describe func(context.Context, *contract.DescribeRequest, ...grpc.CallOption) (*contract.DescribeResponse, error)) map[string]bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	caps := map[string]bool{}
	if d, err := describe(ctx, &contract.DescribeRequest{}); err == nil {
		for _, c := range d.GetCapabilities() {
			caps[c] = true
		}
	}
	return caps
}

func describeResponse(r *contract.GreetResponse) string {
	s := fmt.Sprintf("reply %q", abbreviate(string(r.GetReply())))
	if r.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_NONE {
		s += fmt.Sprintf(", %s: %s", r.GetErrorClass(), abbreviate(r.GetError()))
	}
	return s
}

func describeEvent(ev *contract.ConnectionEvent) string {
	s := fmt.Sprintf("name %q from %s", abbreviate(ev.GetName()), ev.GetRemoteAddress())
	if ev.GetLogLine() != "" {
		s += fmt.Sprintf(", logged %q", abbreviate(ev.GetLogLine()))
	}
	return s
}

// abbreviate keeps long names readable: the head, the length, the tail.
func abbreviate(s string) string {
	r := []rune(s)
	if len(r) <= 60 {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)…%s", string(r[:24]), len(s), string(r[len(r)-24:]))
}
