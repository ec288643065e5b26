package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/plugins/builtin"
	execadapter "github.com/greetspec/greetspec/plugins/exec"
	"github.com/greetspec/greetspec/specs"
	"github.com/greetspec/greetspec/specs/interop"
	"github.com/greetspec/greetspec/specs/report"
	"github.com/spf13/cobra"
)

// cmdPrefix starts an implementation given as a program's command template,
// wrapped by the exec adapter.
const cmdPrefix = "cmd:"

type matrixOptions struct {
	servers, clients, merge     []string
	idle, timeout, startTimeout time.Duration
	procs                       int
	shard                       string
	html, markdown, jsonOut     string
	conformance                 bool
}

func newMatrixCmd() *cobra.Command {
	o := &matrixOptions{}
	cmd := &cobra.Command{
		Use:   "matrix --servers A,B,... --clients X,Y,...",
		Short: "Greet every server with every client and show who interoperates with whom",
		Long: `Run every client against every server, real client to real server with
nothing in between, over names drawn from fixtures/ (ASCII, multi-byte
characters, the empty name, exactly 1024 bytes, and 1025 bytes, which the
client must refuse). A cell is OK when every exchange gave the client the
greeting and the server the name, FAIL otherwise.

Each implementation is one of:
  builtin:NAME        a built-in plugin (see 'greetspec plugins')
  cmd:TEMPLATE        a program wrapped by the exec adapter, e.g.
                      'cmd:/usr/bin/python3 server.py {host} {port}'
  a command line      a go-plugin plugin executable and its arguments

Pairs run in parallel (--procs). --shard i/n runs a deterministic 1/n of the
cells; --merge combines the shards' --json files into one matrix. The grid is
printed as Markdown; --report-html writes a self-contained page whose cells
expand to every exchange. --conformance also runs each implementation's own
conformance suite and shows its verdict beside the grid.

Exit status: 0 every cell OK, 1 some cell failed, 2 usage or setup error.`,
		Example: `  greetspec matrix --servers builtin:reference,builtin:alt/eventloop-server \
                   --clients builtin:reference,builtin:alt/bytewise-client
  greetspec matrix --servers builtin:reference --clients 'cmd:/usr/bin/python3 plugins/tutorial/client.py {host} {port}' \
                   --report-html matrix.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr()) },
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.servers, "servers", nil, "server implementations, comma-separated (quote an entry that contains a comma)")
	f.StringSliceVar(&o.clients, "clients", nil, "client implementations, comma-separated")
	f.StringSliceVar(&o.merge, "merge", nil, "combine these shard JSON files (from --json) instead of running")
	f.DurationVar(&o.idle, "idle-timeout", time.Second, "idle timeout T passed to the servers")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "bound on each exchange and on each wait for a server's report")
	f.DurationVar(&o.startTimeout, "start-timeout", 20*time.Second, "bound on each plugin's start")
	f.IntVar(&o.procs, "procs", runtime.NumCPU(), "pairs run at once")
	f.StringVar(&o.shard, "shard", "", "run only shard i of n (i/n, 1-based)")
	f.StringVar(&o.html, "report-html", "", "write the matrix as a self-contained HTML page")
	f.StringVar(&o.markdown, "markdown", "", "write the Markdown summary to this file instead of standard output")
	f.StringVar(&o.jsonOut, "json", "", "write the matrix as JSON (input of --merge)")
	f.BoolVar(&o.conformance, "conformance", false, "also run each implementation's own conformance suite")
	return cmd
}

func (o *matrixOptions) run(stdout, stderr io.Writer) error {
	var m interop.Matrix
	if len(o.merge) > 0 {
		if len(o.servers)+len(o.clients) > 0 {
			return usageErr("--merge combines earlier results: give no --servers or --clients")
		}
		var parts []interop.Matrix
		for _, p := range o.merge {
			b, err := os.ReadFile(p)
			if err != nil {
				return usageErr("--merge: %v", err)
			}
			var part interop.Matrix
			if err := json.Unmarshal(b, &part); err != nil {
				return usageErr("--merge %s: %v", p, err)
			}
			parts = append(parts, part)
		}
		var err error
		if m, err = interop.Merge(parts); err != nil {
			return usageErr("--merge: %v", err)
		}
	} else {
		var err error
		if m, err = o.runMatrix(stderr); err != nil {
			return err
		}
	}
	if err := o.write(stdout, m); err != nil {
		return &exitError{code: 2, err: err}
	}
	if m.Tally()[interop.OK] != len(m.Cells) {
		return &exitError{code: 1}
	}
	return nil
}

func (o *matrixOptions) runMatrix(stderr io.Writer) (interop.Matrix, error) {
	if len(o.servers) == 0 || len(o.clients) == 0 {
		return interop.Matrix{}, usageErr("give at least one server (--servers) and one client (--clients)")
	}
	if o.procs < 1 {
		return interop.Matrix{}, usageErr("--procs must be at least 1")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--idle-timeout", o.idle}, {"--timeout", o.timeout}, {"--start-timeout", o.startTimeout}} {
		if d.v <= 0 || d.v.Milliseconds() > int64(^uint32(0)) {
			return interop.Matrix{}, usageErr("%s %v is out of range", d.name, d.v)
		}
	}
	opts := interop.Options{Idle: o.idle, Timeout: o.timeout, StartTimeout: o.startTimeout, Parallel: o.procs}
	if o.shard != "" {
		i, n, err := parseShard(o.shard)
		if err != nil {
			return interop.Matrix{}, usageErr("--shard: %v", err)
		}
		opts.Shard, opts.Shards = i-1, n
	}
	self, err := os.Executable()
	if err != nil {
		return interop.Matrix{}, usageErr("cannot find greetspec's own executable: %v", err)
	}
	servers, err := impls(o.servers, "server", self)
	if err != nil {
		return interop.Matrix{}, err
	}
	clients, err := impls(o.clients, "client", self)
	if err != nil {
		return interop.Matrix{}, err
	}
	tty := isTerminal(os.Stderr)
	start := time.Now()
	opts.Progress = func(done, total int, c interop.Cell) {
		line := fmt.Sprintf("matrix: %d/%d cells, %s x %s: %s (%s)", done, total, c.Client, c.Server, c.Outcome, time.Since(start).Round(time.Second))
		if tty {
			fmt.Fprintf(stderr, "\r\033[K%s", line)
			if done == total {
				fmt.Fprintln(stderr)
			}
		} else {
			fmt.Fprintln(stderr, line)
		}
	}
	m := interop.Run(servers, clients, opts)
	if o.conformance {
		m.Conformance = conformance(self, servers, clients)
	}
	return m, nil
}

// parseShard reads "i/n" with 1 <= i <= n.
func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("%q: want i/n with 1 <= i <= n", s)
	}
	return i, n, nil
}

// impls turns the user's references into launchable implementations.
func impls(refs []string, role, self string) ([]interop.Impl, error) {
	var out []interop.Impl
	seen := map[string]bool{}
	for _, ref := range refs {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			return nil, usageErr("--%ss: an empty entry", role)
		}
		if seen[ref] {
			return nil, usageErr("--%ss: %q is listed twice", role, ref)
		}
		seen[ref] = true
		spec, err := implSpec(ref, role, self)
		if err != nil {
			return nil, usageErr("--%ss: %v", role, err)
		}
		out = append(out, interop.Impl{Ref: ref, Spec: spec})
	}
	return out, nil
}

func implSpec(ref, role, self string) (host.Spec, error) {
	if tmpl, ok := strings.CutPrefix(ref, cmdPrefix); ok {
		env := []string{contract.BuiltinEnv + "=exec"}
		var err error
		if role == "server" {
			_, err = execadapter.NewServer(execadapter.ServerConfig{Command: tmpl})
			env = append(env, execadapter.EnvServerCmd+"="+tmpl)
		} else {
			_, err = execadapter.NewClient(execadapter.ClientConfig{Command: tmpl})
			env = append(env, execadapter.EnvClientCmd+"="+tmpl)
		}
		if err != nil {
			return host.Spec{}, err
		}
		return host.Spec{Name: ref, Path: self, Env: env}, nil
	}
	if name, ok := strings.CutPrefix(ref, host.BuiltinPrefix); ok {
		if _, known := builtin.Lookup(name); !known {
			return host.Spec{}, fmt.Errorf("no built-in plugin %q (see 'greetspec plugins')", name)
		}
	}
	return host.ParseRef(ref, self)
}

// conformance runs `greetspec run` for each implementation in its role and
// returns its closing summary line.
func conformance(self string, servers, clients []interop.Impl) map[string]string {
	out := map[string]string{}
	one := func(role string, im interop.Impl) {
		dir, err := os.MkdirTemp("", "greetspec-matrix-")
		if err != nil {
			out[im.Ref] = err.Error()
			return
		}
		defer os.RemoveAll(dir)
		jsonPath := filepath.Join(dir, "report.json")
		args := []string{"run", "--no-repro", "--json-report", jsonPath}
		if tmpl, ok := strings.CutPrefix(im.Ref, cmdPrefix); ok {
			args = append(args, "--"+role+"-cmd", tmpl)
		} else {
			args = append(args, "--"+role, im.Ref)
		}
		cmd := exec.Command(self, args...)
		cmd.Env = append(os.Environ(), "GREETSPEC_CLI_TEST=1")
		_ = cmd.Run()
		vs, err := specs.ReadVerdicts(jsonPath)
		if err != nil {
			out[im.Ref] = "conformance run failed: " + err.Error()
			return
		}
		t := specs.Tally(vs)
		out[im.Ref] = fmt.Sprintf("%s conformance: %d passed, %d failed, %d blocked, %d partial, %d not observable",
			role, t[specs.OutcomePass], t[specs.OutcomeFail], t[specs.OutcomeBlocked], t[specs.OutcomePartial], t[specs.OutcomeNotObservable])
		if cs := specs.Causes(vs); len(cs) > 0 {
			out[im.Ref] += "; " + cs[0].Summary()
		}
	}
	for _, s := range servers {
		one("server", s)
	}
	for _, c := range clients {
		if _, dup := out[c.Ref]; dup {
			continue
		}
		one("client", c)
	}
	return out
}

func (o *matrixOptions) write(stdout io.Writer, m interop.Matrix) error {
	md := stdout
	if o.markdown != "" {
		f, err := os.Create(o.markdown)
		if err != nil {
			return fmt.Errorf("--markdown: %w", err)
		}
		defer f.Close()
		md = f
	}
	if err := report.WriteMatrixMarkdown(md, m); err != nil {
		return err
	}
	if o.html != "" {
		if err := writeFile(o.html, func(w io.Writer) error { return report.WriteMatrixHTML(w, m) }); err != nil {
			return fmt.Errorf("--report-html: %w", err)
		}
	}
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	return nil
}
