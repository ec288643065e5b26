// Package host launches greetspec plugins and guarantees they go away.
//
// A plugin is any executable that speaks the contract of package contract
// through go-plugin. Launch starts it with go-plugin's automatic mTLS
// protocol (the host's certificate is made once per process; a built-in
// plugin, greetspec's own binary on a private unix socket, without TLS: see
// Spec.Builtin) and a start
// timeout, in a process group of its own with a parent-death signal, and
// returns a Plugin whose Close kills the whole group on every path: normal
// end, a crashed plugin, a hung plugin, or a plugin that lied in its
// handshake. Each launch marks the plugin's processes with a containment
// token (ContainEnv), so Close also kills what left the process tree (a
// double-forked daemon). The start timeout bounds the whole launch,
// handshake line, TLS handshake and first gRPC call included. Errors from a
// plugin that went away name the plugin and say how it exited, with its
// last lines of stderr, escaped (EscapeText).
//
// Contain, called once by the greetspec command, extends this to the whole
// run: whatever ends greetspec, even SIGKILL, nothing it started survives
// and no temporary directory stays behind. A plugin reference may be pinned
// to a checksum (PinSHA256).
package host

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Spec says how to start a plugin.
type Spec struct {
	// Name identifies the plugin in messages, for example "builtin:reference".
	Name string
	// Path is the executable; Args its arguments (without argv[0]).
	Path string
	Args []string
	// Env is added to the host's environment for the plugin.
	Env []string
	// Dir is the working directory; empty means the host's.
	Dir string
	// Attach, if set, names a plugin that is already running (started by
	// hand, see contract.AttachEnv): Launch connects to it instead of
	// starting a process, and Close leaves it running.
	Attach *contract.AttachDetails
	// Builtin says that the plugin is the greetspec binary itself serving
	// one of its built-in plugins (ParseRef sets it for "builtin:NAME").
	// Launch then speaks to it without TLS: go-plugin serves a Go plugin on
	// a unix socket in a directory it creates for the launch, which only
	// this user can open, so TLS would guard nothing there. Launch checks
	// that this is so after the handshake and refuses the plugin if not.
	// Every other plugin is spoken to over mutual TLS.
	Builtin bool
}

// String returns the plugin's name, or its command line.
func (s Spec) String() string {
	if s.Name != "" {
		return s.Name
	}
	return strings.TrimSpace(s.Path + " " + strings.Join(s.Args, " "))
}

// Options tune Launch. The zero value is usable.
type Options struct {
	// StartTimeout bounds the handshake; default 20 s.
	StartTimeout time.Duration
	// KillTimeout bounds the graceful part of Close before the process group
	// is killed outright; default 3 s.
	KillTimeout time.Duration
	// Log receives the plugin's stderr and go-plugin's messages; nil
	// discards them (the last lines are still kept for error messages).
	Log io.Writer
	// LogLevel filters Log; default Info.
	LogLevel hclog.Level
}

// Plugin is a running plugin process.
type Plugin struct {
	spec   Spec
	opts   Options
	client *plugin.Client
	runner *processRunner
	tail   *lineTail
	token  string // containment token of this launch (see ContainEnv)
	// attached: connected to a plugin someone else started.
	attached bool

	mu        sync.Mutex // guards runner while the launch is under way
	closeOnce sync.Once
}

// Launch starts the plugin described by spec and completes its handshake.
// On any error nothing is left running.
func Launch(spec Spec, opts Options) (*Plugin, error) {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 20 * time.Second
	}
	if opts.LogLevel == hclog.NoLevel {
		opts.LogLevel = hclog.Info
	}
	if spec.Attach != nil {
		return attach(spec, opts)
	}
	if spec.Path == "" {
		return nil, fmt.Errorf("plugin %s: no executable given", spec)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 20 * time.Second
	}
	if opts.KillTimeout <= 0 {
		opts.KillTimeout = 3 * time.Second
	}
	if opts.LogLevel == hclog.NoLevel {
		opts.LogLevel = hclog.Info
	}
	p := &Plugin{spec: spec, opts: opts, tail: newLineTail(20), token: newToken("plugin-")}
	pinned, err := checkPin(spec)
	if err != nil {
		return nil, &PluginError{Msg: fmt.Sprintf("plugin %s: refused", spec), Err: err}
	}
	// Mutual TLS as go-plugin's AutoMTLS does it, with the host's
	// certificate made once per process (hostCertificate); none for a
	// built-in plugin (Spec.Builtin), whose socket is checked instead.
	var tlsConfig *tls.Config
	var certPEM []byte
	if !spec.Builtin {
		var err error
		if tlsConfig, certPEM, err = clientTLS(); err != nil {
			return nil, fmt.Errorf("plugin %s: making the host's TLS certificate: %w", spec, err)
		}
	}
	var runnerErr error
	var socketDir string
	p.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  contract.Handshake,
		Plugins:          contract.HostPlugins(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		TLSConfig:        tlsConfig,
		SkipHostEnv:      true, // the runner adds the host's environment before spec.Env
		StartTimeout:     opts.StartTimeout,
		Logger:           newLogger(spec.String(), opts.Log, opts.LogLevel),
		SyncStderr:       io.Discard,
		SyncStdout:       io.Discard,
		RunnerFunc: func(_ hclog.Logger, cmd *exec.Cmd, dir string) (runner.Runner, error) {
			// Last, so that it overrides one inherited from the host's
			// environment; empty asks a plugin for no TLS.
			env := append(cmd.Env, clientCertEnv+"="+string(certPEM))
			socketDir = dir
			r, err := newProcessRunner(spec, env, p.token, p.tail, pinned)
			p.mu.Lock()
			p.runner, runnerErr = r, err
			p.mu.Unlock()
			return r, err
		},
	})
	// go-plugin's StartTimeout bounds only the wait for the handshake line;
	// the TLS handshake and the first gRPC call that follow are bounded by
	// gRPC's own 20 s connect timeout. The whole launch gets StartTimeout.
	type result struct{ err error }
	started := make(chan result, 1)
	go func() {
		_, err := p.client.Client()
		started <- result{err}
	}()
	var startErr error
	timer := time.NewTimer(opts.StartTimeout)
	defer timer.Stop()
	select {
	case r := <-started:
		startErr = r.err
	case <-timer.C:
		// Killing the plugin ends its connection, so the pending call
		// returns; wait for it, so that nothing is left running.
		p.mu.Lock()
		if r := p.runner; r != nil {
			r.killGroup()
		}
		p.mu.Unlock()
		select {
		case <-started:
		case <-time.After(opts.KillTimeout):
		}
		startErr = fmt.Errorf("timeout: the plugin did not complete its start (handshake, TLS and gRPC connection) within --start-timeout %v", opts.StartTimeout)
	}
	if startErr == nil && spec.Builtin {
		startErr = privateSocket(p.client.ReattachConfig(), socketDir)
	}
	if startErr != nil {
		p.Close()
		if runnerErr != nil {
			startErr = runnerErr
		}
		if errors.Is(startErr, ErrChecksum) {
			return nil, &PluginError{Msg: fmt.Sprintf("plugin %s: refused", spec), Err: startErr}
		}
		return nil, p.explain("start", startErr)
	}
	return p, nil
}

// Spec returns what the plugin was launched from.
func (p *Plugin) Spec() Spec { return p.spec }

// Server returns the plugin's server role.
func (p *Plugin) Server() (contract.GreetServerClient, error) {
	v, err := p.dispense(contract.ServerPluginName)
	if err != nil {
		return nil, err
	}
	return v.(contract.GreetServerClient), nil
}

// Client returns the plugin's client role.
func (p *Plugin) Client() (contract.GreetClientClient, error) {
	v, err := p.dispense(contract.ClientPluginName)
	if err != nil {
		return nil, err
	}
	return escapedClient{v.(contract.GreetClientClient)}, nil
}

// escapedClient escapes the free-text error message of a client plugin's
// responses (EscapeText): it is shown in failure messages. The reply and
// its shown text are data the specs judge, left as they are.
type escapedClient struct{ contract.GreetClientClient }

// Greet calls the plugin and escapes the response's error message.
func (c escapedClient) Greet(ctx context.Context, in *contract.GreetRequest, opts ...grpc.CallOption) (*contract.GreetResponse, error) {
	resp, err := c.GreetClientClient.Greet(ctx, in, opts...)
	if resp != nil && resp.Error != "" {
		resp.Error = EscapeText(resp.Error)
	}
	return resp, err
}

func (p *Plugin) dispense(role string) (interface{}, error) {
	cp, err := p.client.Client()
	if err != nil {
		return nil, p.explain("connect", err)
	}
	v, err := cp.Dispense(role)
	if err != nil {
		return nil, p.explain("dispense "+role, err)
	}
	return v, nil
}

// Exited reports whether the plugin process has ended.
func (p *Plugin) Exited() bool {
	if p.attached {
		return p.client.Exited()
	}
	if p.runner == nil {
		return true
	}
	select {
	case <-p.runner.exited:
		return true
	default:
		return false
	}
}

// PID returns the plugin's process ID, or 0 if it never started.
func (p *Plugin) PID() int {
	if p.runner == nil || p.runner.cmd.Process == nil {
		return 0
	}
	return p.runner.cmd.Process.Pid
}

// Err turns an error from a call into the plugin into one that says what
// happened to the plugin, when the plugin has gone away. A call fails a
// moment before the process is reaped, so it waits briefly for the exit,
// unless the plugin itself answered the call with its error (see
// answered): then it was running when the call failed.
func (p *Plugin) Err(op string, err error) error {
	if err == nil {
		return nil
	}
	if p.runner != nil && !answered(err) {
		select {
		case <-p.runner.exited:
		case <-time.After(500 * time.Millisecond):
		}
	}
	return p.explain(op, err)
}

// answered reports whether err is a status the plugin's own handler sent
// back (its error, a refusal, a stream ended on purpose), as opposed to
// one the transport made up because the plugin went away or did not answer
// (Unavailable, Canceled, DeadlineExceeded, Internal). For an answered
// call there is no exit to wait for: the exec adapter's Stop of a wrapped
// program that exited answers this way, once per failed spec.
func answered(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Unknown, codes.InvalidArgument, codes.FailedPrecondition, codes.Aborted, codes.Unimplemented:
		return true
	}
	return false
}

// explain wraps err with the plugin's name and, if it has exited, how, plus
// its last lines of stderr.
func (p *Plugin) explain(op string, err error) error {
	msg := fmt.Sprintf("plugin %s: %s", p.spec, op)
	exited := false
	if p.runner != nil {
		if exit := p.runner.exitDescription(); exit != "" {
			msg += fmt.Sprintf(": plugin process %d %s", p.runner.cmd.Process.Pid, exit)
			exited = true
		}
	}
	// A plugin's own error message arrives wrapped as "rpc error: code =
	// Unknown desc = ..."; its words are what the user needs.
	if st, ok := status.FromError(err); ok && st.Code() == codes.Unknown && st.Message() != "" {
		err = errors.New(st.Message())
	}
	// Its last words matter when it died or never came up; for a call
	// into a live plugin the error itself says what went wrong.
	if tail := p.tail.String(); tail != "" && (exited || op == "start") {
		err = fmt.Errorf("%w\nlast plugin output:\n%s", err, indent(tail))
	}
	return &PluginError{Msg: msg, Err: escapedError{err}}
}

// escapedError shows err's text with control characters escaped: a plugin's
// output and the messages it sends back are data, never terminal commands.
// It unwraps to err, so gRPC status codes stay readable.
type escapedError struct{ err error }

func (e escapedError) Error() string { return EscapeText(e.err.Error()) }
func (e escapedError) Unwrap() error { return e.err }

// PluginError is an error caused by a plugin: it failed to start, broke its
// contract, or went away.
type PluginError struct {
	Msg string
	Err error
}

func (e *PluginError) Error() string { return e.Msg + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *PluginError) Unwrap() error { return e.Err }

// IsPluginError reports whether err came from a plugin failure.
func IsPluginError(err error) bool {
	var pe *PluginError
	return errors.As(err, &pe)
}

// Close ends the plugin: a graceful go-plugin shutdown bounded by
// KillTimeout, then SIGKILL to its whole process group, then a wait for the
// exit. It is safe to call more than once and from any goroutine.
func (p *Plugin) Close() {
	p.closeOnce.Do(func() {
		if p.attached {
			// Disconnect only: the process belongs to whoever started it
			// (ClientProtocol.Close would ask the plugin to shut down).
			if cp, err := p.client.Client(); err == nil {
				if g, ok := cp.(*plugin.GRPCClient); ok {
					_ = g.Conn.Close()
				}
			}
			p.client.Kill()
			return
		}
		p.mu.Lock()
		r := p.runner
		p.mu.Unlock()
		// Descendants first: once a wrapper plugin exits, the programs it
		// started are reparented and can no longer be found from it.
		if r != nil && r.cmd.Process != nil && !r.hasExited() {
			killTree(r.cmd.Process.Pid)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.client.Kill()
		}()
		select {
		case <-done:
		case <-time.After(p.opts.KillTimeout):
		}
		if r == nil || r.cmd.Process == nil {
			return
		}
		// Kill the group even after a graceful exit: a wrapper's children
		// may have outlived it.
		r.killGroup()
		go func() { _ = r.Wait(context.Background()) }()
		select {
		case <-r.exited:
		case <-time.After(p.opts.KillTimeout):
		}
		// go-plugin's Kill returns once the process is reaped; if it is
		// stuck anyway, leave it rather than hang the caller.
		select {
		case <-done:
		case <-time.After(p.opts.KillTimeout):
		}
		// Whatever left the tree (a double-forked daemon) still carries
		// this launch's token.
		reapOrphans(killTagged(p.token, p.opts.KillTimeout), r.cmd.Process.Pid)
	})
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// Done returns a channel that is closed when the plugin process has ended,
// so that a wait for the plugin can end the moment it dies. For an attached
// plugin (a process someone else started) it is nil, which never fires:
// Exited still tells.
func (p *Plugin) Done() <-chan struct{} {
	if p.attached || p.runner == nil {
		return nil
	}
	return p.runner.exited
}

// ExitStatus says how the plugin process ended, "exited with status 3" or
// "was ended by a signal (signal: killed)", or "" while it runs (and for an attached
// plugin).
func (p *Plugin) ExitStatus() string {
	if p.attached || p.runner == nil || !p.runner.hasExited() {
		return ""
	}
	var ee *exec.ExitError
	switch {
	case p.runner.waitErr == nil:
		return "exited with status 0"
	case errors.As(p.runner.waitErr, &ee) && ee.Exited():
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	case errors.As(p.runner.waitErr, &ee):
		return "was ended by a signal (" + ee.String() + ")"
	}
	return "ended: " + p.runner.waitErr.Error()
}

// LastOutput returns the plugin's last lines of stderr, escaped
// (EscapeText), or "".
func (p *Plugin) LastOutput() string {
	return EscapeText(p.tail.String())
}
