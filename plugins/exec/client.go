package execadapter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// clientPlaceholders are the placeholders a client command template may use.
var clientPlaceholders = []string{"host", "port", "addr", "name", "name_file", "timeout_ms"}

// maxStdout bounds how much of the head of the client program's standard
// output is kept for finding the reply; the last tailBytes bytes are kept
// too, so a reply printed after more than maxStdout bytes of other output
// is still found by a reply pattern.
const (
	maxStdout = 1 << 20
	tailBytes = 64 << 10
)

// ClientKillGrace is how long after its timeout a client program may still
// run before the adapter kills it. A program that honours its timeout ends
// within it, reports its own timeout and is judged by its own words; one
// that overruns by more than ClientKillGrace is killed and reported as
// TIMEOUT with an error that says it overran and was killed.
const ClientKillGrace = 2 * time.Second

// ClientMaxCPUWait bounds how much later than timeout + ClientKillGrace a
// client program is killed because it waited for a CPU. Time a program
// spent runnable but not running (on Linux, the run-queue wait of its
// processes in /proc/PID/schedstat) is not its fault: at its kill deadline
// the adapter pushes the deadline back by the wait added since the last
// check, again and again, in all by at most ClientMaxCPUWait, and never
// past one second before the deadline of the Greet call itself. A program
// that sleeps or blocks waits for no CPU and is killed on time.
const ClientMaxCPUWait = 10 * time.Second

// minCPUWaitCredit is the least added CPU wait that pushes a kill deadline
// back; less is measurement noise and ends the extensions.
const minCPUWaitCredit = 20 * time.Millisecond

// callMargin is how long before the Greet call's own deadline a program is
// killed at the latest, so that the kill is reported, not the deadline.
const callMargin = time.Second

// promptPrefix matches prompts such as "Enter the name: " or "Name:" that
// an input()-style client prints without a newline (or with one) before
// its reply, at the very start of its standard output.
var promptPrefix = regexp.MustCompile(`^(?i:(?:(?:enter|type|input)(?: (?:the|your|a))? name ?:?|name ?:) ?(?:\r?\n)?)+`)

// Client runs a client program once per Greet. It implements
// contract.Client and contract.Describer.
type Client struct {
	cfg      ClientConfig
	tmpl     *template
	reply    *regexp.Regexp // nil: all of stdout, prompt and line ending removed
	outcomes map[int]contract.ErrorClass
	// cpuWait returns a reader of the CPU wait so far of the process
	// group it is given (groupCPUWait; tests inject their own).
	cpuWait func(pgid int) func() time.Duration
}

var (
	_ contract.Client    = (*Client)(nil)
	_ contract.Describer = (*Client)(nil)
)

// NewClient validates cfg's command template, reply pattern and outcome
// mappings and returns a Client for it. It sets cfg.NameArg from the
// template.
func NewClient(cfg ClientConfig) (contract.Client, error) {
	return newClient(cfg)
}

func newClient(cfg ClientConfig) (*Client, error) {
	if cfg.Command == "" {
		return nil, fmt.Errorf("exec client: no command (set %s)", EnvClientCmd)
	}
	tmpl, err := parseTemplate(cfg.Command, clientPlaceholders...)
	if err != nil {
		return nil, fmt.Errorf("exec client: %w", err)
	}
	cfg.NameArg = tmpl.uses["name"]
	c := &Client{cfg: cfg, tmpl: tmpl, cpuWait: groupCPUWait}
	if cfg.ReplyPattern != "" {
		if c.reply, err = regexp.Compile(cfg.ReplyPattern); err != nil {
			return nil, fmt.Errorf("exec client: reply pattern: %w", err)
		}
	}
	if c.outcomes, err = ParseClientOutcomes(cfg.Outcomes); err != nil {
		return nil, fmt.Errorf("exec client: %w", err)
	}
	return c, nil
}

// Describe names the adapter after its command template and declares
// contract.CapabilityClientText, and contract.CapabilityNoTimeout when the
// template has no {timeout_ms}.
func (c *Client) Describe() *contract.DescribeResponse {
	caps := []string{contract.CapabilityClientText}
	if !c.tmpl.uses["timeout_ms"] {
		caps = append(caps, contract.CapabilityNoTimeout)
	}
	return &contract.DescribeResponse{Name: "exec: " + c.cfg.Command, Capabilities: caps}
}

// Greet runs the program once against req.Address with req.Name and reads
// the reply from its standard output. The program's timeout is req's
// (default DefaultClientTimeout), passed as {timeout_ms}; the adapter kills
// its whole process group ClientKillGrace after it, later by the time the
// program waited for a CPU (see watch and ClientMaxCPUWait). Failures are
// classified from the exit status and the program's output (see
// CONTRACT.md).
func (c *Client) Greet(ctx context.Context, req *contract.GreetRequest) (*contract.GreetResponse, error) {
	host, port, err := net.SplitHostPort(req.GetAddress())
	if err != nil {
		return nil, fmt.Errorf("exec client: server address %q: %w", req.GetAddress(), err)
	}
	name := req.GetName()
	if c.cfg.NameArg && strings.IndexByte(name, 0) >= 0 {
		return &contract.GreetResponse{
			ErrorClass: contract.ErrorClass_ERROR_CLASS_OTHER,
			Error:      "exec client: the name contains a NUL byte, which a program argument cannot carry; use a template without {name} (the name then arrives on standard input) or with {name_file}",
		}, nil
	}
	timeout := DefaultClientTimeout
	if ms := req.GetTimeoutMs(); ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	vals := map[string]string{
		"host": host, "port": port, "addr": req.GetAddress(), "name": name,
		"timeout_ms": strconv.FormatInt(timeout.Milliseconds(), 10),
	}
	if c.tmpl.uses["name_file"] {
		path, err := writeNameFile(name)
		if err != nil {
			return nil, fmt.Errorf("exec client: writing the name file: %w", err)
		}
		defer os.Remove(path)
		vals["name_file"] = path
	}
	argv := c.tmpl.fill(vals)

	var (
		all    tail
		stdout = &capture{limit: maxStdout, ring: tailBytes, all: &all}
		stderr = &capture{all: &all}
	)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.cfg.Dir
	cmd.Env = programEnv()
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return signalGroup(cmd.Process, syscall.SIGKILL) }
	// Bounds the wait for output still held open by a left-over child after
	// the program exited or was killed.
	cmd.WaitDelay = outputGrace
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if !c.cfg.NameArg && !c.tmpl.uses["name_file"] {
		cmd.Stdin = strings.NewReader(name) // exactly the name, then end of input
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec client: starting %q: %w", argv, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	killed, credit := c.watch(ctx, cmd.Process, timeout+ClientKillGrace, waited)
	waitErr := <-waited
	// Children the program left behind share its group.
	_ = signalGroup(cmd.Process, syscall.SIGKILL)
	stdout.flush()
	stderr.flush()
	if errors.Is(waitErr, exec.ErrWaitDelay) {
		waitErr = nil // the program itself exited 0; only its output lingered
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	head, last, truncated := stdout.stdout()
	reply, found := c.findReply(head, last, truncated)
	resp := &contract.GreetResponse{Reply: reply, Shown: contract.DecodeUTF8(reply)}
	fail := func(class contract.ErrorClass, format string, args ...any) (*contract.GreetResponse, error) {
		resp.ErrorClass = class
		resp.Error = fmt.Sprintf(format, args...) + all.String()
		return resp, nil
	}
	if killed {
		net := ""
		if credit > 0 {
			net = fmt.Sprintf(" (not counting the %v it waited for a CPU)", credit.Round(time.Millisecond))
		}
		if c.tmpl.uses["timeout_ms"] {
			return fail(contract.ErrorClass_ERROR_CLASS_TIMEOUT,
				"client program %q overran its timeout of %v by more than %v%s and was killed", argv, timeout, ClientKillGrace, net)
		}
		return fail(contract.ErrorClass_ERROR_CLASS_TIMEOUT,
			"client program %q (not told its timeout: no {timeout_ms} in its template) did not finish within %v + %v%s and was killed", argv, timeout, ClientKillGrace, net)
	}
	code := exitCode(waitErr)
	if class, ok := c.outcomes[code]; ok && code != 0 {
		return fail(class, "client program %q failed with %s, mapped to %s by --client-outcome", argv, exitText(waitErr), className(class))
	}
	if waitErr != nil {
		class := classifyWords(stderr.text())
		if class == contract.ErrorClass_ERROR_CLASS_OTHER {
			class = classifyWords(stdout.text())
		}
		return fail(class, "client program %q failed with %s: %s", argv, exitText(waitErr), classText[class])
	}
	if !found {
		return fail(contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY, "client program %q exited 0 without printing a reply (closed early)", argv)
	}
	return resp, nil
}

// watch waits for the program p to end (waited receives its Wait's
// result; watch leaves it there) and kills its process group when it is
// still running limit after its start, net of the time it waited for a
// CPU: at each deadline the wait added since the last one pushes the
// deadline back, in all by at most ClientMaxCPUWait and never past
// callMargin before ctx's deadline. It reports whether it killed the
// program and the CPU wait it allowed for. ctx's end kills the program
// through exec.CommandContext.
func (c *Client) watch(ctx context.Context, p *os.Process, limit time.Duration, waited chan error) (killed bool, credit time.Duration) {
	maxCredit := ClientMaxCPUWait
	if dl, ok := ctx.Deadline(); ok {
		maxCredit = min(maxCredit, max(0, time.Until(dl)-callMargin-limit))
	}
	var cpuWait func() time.Duration
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case err := <-waited:
			waited <- err
			return false, credit
		case <-ctx.Done():
			return false, credit
		case <-timer.C:
		}
		if cpuWait == nil {
			cpuWait = c.cpuWait(p.Pid)
		}
		if more := min(cpuWait()-credit, maxCredit-credit); more >= minCPUWaitCredit {
			credit += more
			timer.Reset(more)
			continue
		}
		_ = signalGroup(p, syscall.SIGKILL)
		return true, credit
	}
}

// classText says in words what a failure class means, for messages.
var classText = map[contract.ErrorClass]string{
	contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG: "its output says the name is too long",
	contract.ErrorClass_ERROR_CLASS_REFUSED:       "its output says the connection was refused",
	contract.ErrorClass_ERROR_CLASS_RESET:         "its output says the connection was reset",
	contract.ErrorClass_ERROR_CLASS_TIMEOUT:       "its output says it timed out",
	contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY:  "its output says the server closed without a reply",
	contract.ErrorClass_ERROR_CLASS_OTHER:         "its output names no known failure (other)",
}

// writeNameFile writes name, exactly its bytes, to a new temporary file
// and returns its path. The caller removes it.
func writeNameFile(name string) (string, error) {
	f, err := os.CreateTemp("", "greetspec-name-*")
	if err != nil {
		return "", err
	}
	_, werr := f.WriteString(name)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(f.Name())
		return "", werr
	}
	return f.Name(), nil
}

// exitCode is the program's exit status: 0 for success, -1 when it was
// ended by a signal or did not run.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// findReply picks the reply out of the program's standard output: head is
// its first bytes (all of it unless truncated), last its last bytes.
func (c *Client) findReply(head, last []byte, truncated bool) ([]byte, bool) {
	if c.reply != nil {
		if r, ok := matchReply(c.reply, head); ok || !truncated {
			return r, ok
		}
		return matchReply(c.reply, last)
	}
	return defaultReply(head, truncated)
}

// matchReply applies a reply pattern: its group named reply, or the whole
// match.
func matchReply(re *regexp.Regexp, out []byte) ([]byte, bool) {
	m := re.FindSubmatchIndex(out)
	if m == nil {
		return nil, false
	}
	if i := re.SubexpIndex("reply"); i >= 0 {
		if m[2*i] < 0 {
			return nil, false
		}
		return out[m[2*i]:m[2*i+1]], true
	}
	return out[m[0]:m[1]], true
}

// defaultReply is all of stdout with a leading prompt and one trailing line
// ending (\n or \r\n) removed. A truncated output keeps its head.
func defaultReply(out []byte, truncated bool) ([]byte, bool) {
	if loc := promptPrefix.FindIndex(out); loc != nil {
		out = out[loc[1]:]
	}
	if !truncated {
		if bytes.HasSuffix(out, []byte("\r\n")) {
			out = out[:len(out)-2]
		} else if bytes.HasSuffix(out, []byte("\n")) {
			out = out[:len(out)-1]
		}
	}
	return out, len(out) > 0
}

// capture is an io.Writer for one stream of a program's output. It
// feeds complete lines to its own tail (for classification) and to the
// shared one (for messages) and, with a limit, keeps the first limit bytes
// and the last ring bytes of everything.
type capture struct {
	limit   int
	ring    int
	all     *tail
	lines   tail
	mu      sync.Mutex
	head    []byte
	last    []byte
	total   int64
	partial []byte
}

func (w *capture) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total += int64(len(p))
	if room := w.limit - len(w.head); room > 0 {
		w.head = append(w.head, p[:min(len(p), room)]...)
	}
	if w.ring > 0 {
		w.last = append(w.last, p...)
		if len(w.last) > 2*w.ring {
			w.last = append(w.last[:0:0], w.last[len(w.last)-w.ring:]...)
		}
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.addLine(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > maxLine {
		w.partial = w.partial[:maxLine]
	}
	return len(p), nil
}

func (w *capture) addLine(b []byte) {
	line := string(bytes.TrimSuffix(b, []byte("\r")))
	w.lines.add(line)
	w.all.add(line)
}

// flush hands a last line without newline to the tails.
func (w *capture) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.addLine(w.partial)
		w.partial = nil
	}
}

// stdout returns the kept head, the kept last bytes, and whether the head
// is not all of the output.
func (w *capture) stdout() (head, last []byte, truncated bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.last) > w.ring {
		w.last = w.last[len(w.last)-w.ring:]
	}
	return w.head, w.last, w.total > int64(len(w.head))
}

// text is this stream's kept lines, for classification.
func (w *capture) text() string { return w.lines.joined() }
