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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// clientPlaceholders are the placeholders a client command template may use.
var clientPlaceholders = []string{"host", "port", "addr", "name"}

// maxStdout bounds how much of the client program's standard output is
// kept for finding the reply.
const maxStdout = 1 << 20

// promptPrefix matches prompts such as "Enter the name: " that an
// input()-style client prints without a newline, so that they end up at the
// start of the reply line.
var promptPrefix = regexp.MustCompile(`^(?:(?i:enter|type|input)(?: (?i:the|your))? (?i:name) ?: ?)+`)

// Client runs a client program once per Greet. It implements
// contract.Client and contract.Describer.
type Client struct {
	cfg   ClientConfig
	tmpl  *template
	reply *regexp.Regexp // nil: last non-empty line
}

var (
	_ contract.Client    = (*Client)(nil)
	_ contract.Describer = (*Client)(nil)
)

// NewClient validates cfg's command template and reply pattern and returns
// a Client for it. It sets cfg.NameArg from the template.
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
	c := &Client{cfg: cfg, tmpl: tmpl}
	if cfg.ReplyPattern != "" {
		if c.reply, err = regexp.Compile(cfg.ReplyPattern); err != nil {
			return nil, fmt.Errorf("exec client: reply pattern: %w", err)
		}
	}
	return c, nil
}

// Describe names the adapter after its command template.
func (c *Client) Describe() *contract.DescribeResponse {
	return &contract.DescribeResponse{Name: "exec: " + c.cfg.Command}
}

// Greet runs the program once against req.Address with req.Name, killing
// its whole process group when req's timeout (default 10 s) passes, and
// reads the reply from its standard output. Failures are classified from
// the exit status and the program's output (see the package doc).
func (c *Client) Greet(ctx context.Context, req *contract.GreetRequest) (*contract.GreetResponse, error) {
	host, port, err := net.SplitHostPort(req.GetAddress())
	if err != nil {
		return nil, fmt.Errorf("exec client: server address %q: %w", req.GetAddress(), err)
	}
	name := req.GetName()
	if c.cfg.NameArg && strings.IndexByte(name, 0) >= 0 {
		return &contract.GreetResponse{
			ErrorClass: contract.ErrorClass_ERROR_CLASS_OTHER,
			Error:      "exec client: the name contains a NUL byte, which a program argument cannot carry; use a template without {name} to pass it on standard input",
		}, nil
	}
	argv := c.tmpl.fill(map[string]string{
		"host": host, "port": port, "addr": req.GetAddress(), "name": name,
	})
	timeout := DefaultClientTimeout
	if ms := req.GetTimeoutMs(); ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}

	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		out    tail
		stdout = &capture{limit: maxStdout, tail: &out}
		stderr = &capture{tail: &out}
	)
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	cmd.Dir = c.cfg.Dir
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return signalGroup(cmd.Process, syscall.SIGKILL) }
	// Bounds the wait for output still held open by a left-over child after
	// the program exited or was killed.
	cmd.WaitDelay = outputGrace
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if !c.cfg.NameArg {
		cmd.Stdin = strings.NewReader(name + "\n")
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec client: starting %q: %w", argv, err)
	}
	waitErr := cmd.Wait()
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

	reply, found := c.findReply(stdout.bytes())
	resp := &contract.GreetResponse{Reply: reply, Shown: contract.DecodeUTF8(reply)}
	fail := func(class contract.ErrorClass, format string, args ...any) (*contract.GreetResponse, error) {
		resp.ErrorClass = class
		resp.Error = fmt.Sprintf(format, args...) + out.String()
		return resp, nil
	}
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		return fail(contract.ErrorClass_ERROR_CLASS_TIMEOUT, "client program %q did not finish within %v and was killed", argv, timeout)
	}
	if waitErr != nil {
		text := strings.ToLower(out.joined())
		switch {
		case strings.Contains(text, "connection refused") || strings.Contains(text, "connectionrefused"):
			return fail(contract.ErrorClass_ERROR_CLASS_REFUSED, "client program %q: connection refused (%s)", argv, exitText(waitErr))
		case strings.Contains(text, "reset"):
			return fail(contract.ErrorClass_ERROR_CLASS_RESET, "client program %q: connection reset (%s)", argv, exitText(waitErr))
		case strings.Contains(text, "timed out") || strings.Contains(text, "timeouterror"):
			return fail(contract.ErrorClass_ERROR_CLASS_TIMEOUT, "client program %q timed out (%s)", argv, exitText(waitErr))
		}
		return fail(contract.ErrorClass_ERROR_CLASS_OTHER, "client program %q failed: %s", argv, exitText(waitErr))
	}
	if !found {
		return fail(contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY, "client program %q exited 0 without printing a reply", argv)
	}
	return resp, nil
}

// findReply picks the reply out of the program's standard output.
func (c *Client) findReply(stdout []byte) ([]byte, bool) {
	if c.reply != nil {
		m := c.reply.FindSubmatchIndex(stdout)
		if m == nil {
			return nil, false
		}
		if i := c.reply.SubexpIndex("reply"); i >= 0 {
			if m[2*i] < 0 {
				return nil, false
			}
			return stdout[m[2*i]:m[2*i+1]], true
		}
		return stdout[m[0]:m[1]], true
	}
	lines := bytes.Split(stdout, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if len(lines[i]) == 0 {
			continue
		}
		line := lines[i]
		if loc := promptPrefix.FindIndex(line); loc != nil {
			line = line[loc[1]:]
		}
		return line, len(line) > 0
	}
	return nil, false
}

// capture is an io.Writer for a program's output: it feeds complete lines
// to a tail and, with a limit, keeps up to limit bytes of everything.
type capture struct {
	limit   int
	tail    *tail
	mu      sync.Mutex
	all     []byte
	partial []byte
}

func (w *capture) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.limit - len(w.all); room > 0 {
		w.all = append(w.all, p[:min(len(p), room)]...)
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.tail.add(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > maxLine {
		w.partial = w.partial[:maxLine]
	}
	return len(p), nil
}

// flush hands a last line without newline to the tail.
func (w *capture) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.tail.add(string(w.partial))
		w.partial = nil
	}
}

func (w *capture) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all
}
