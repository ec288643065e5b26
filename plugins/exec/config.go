package execadapter

import (
	"fmt"
	"github.com/greetspec/greetspec/core/logline"
	"os"
	"time"
)

// Environment variables that configure the adapter when greetspec serves it
// as a built-in plugin. The CLI sets them from its flags; they can also be
// set by hand.
const (
	// EnvServerCmd is the server program's command template, with the
	// placeholders {host}, {port} and {addr}.
	EnvServerCmd = "GREETSPEC_EXEC_SERVER_CMD"
	// EnvServerLogPattern is a Go regexp with named groups addr and name
	// that picks the connection log lines out of the server's output.
	EnvServerLogPattern = "GREETSPEC_EXEC_SERVER_LOG_PATTERN"
	// EnvReadyTimeout bounds the wait for the server program's port, as a
	// Go duration such as "10s".
	EnvReadyTimeout = "GREETSPEC_EXEC_READY_TIMEOUT"
	// EnvClientCmd is the client program's command template, with the
	// placeholders {host}, {port}, {addr}, {name}, {name_file} and
	// {timeout_ms}.
	EnvClientCmd = "GREETSPEC_EXEC_CLIENT_CMD"
	// EnvClientReplyPattern is a Go regexp that picks the reply out of the
	// client program's standard output.
	EnvClientReplyPattern = "GREETSPEC_EXEC_CLIENT_REPLY_PATTERN"
	// EnvClientOutcomes maps client exit statuses to failure classes:
	// comma-separated CLASS=EXITCODE pairs (see ParseClientOutcomes).
	EnvClientOutcomes = "GREETSPEC_EXEC_CLIENT_OUTCOMES"
	// EnvDir is the working directory of both programs.
	EnvDir = "GREETSPEC_EXEC_DIR"
)

// DefaultReadyTimeout is how long Start waits for the server program's port
// when ServerConfig.ReadyTimeout is zero.
const DefaultReadyTimeout = 10 * time.Second

// DefaultClientTimeout bounds one run of the client program when the
// request carries no timeout.
const DefaultClientTimeout = 10 * time.Second

// DefaultLogPattern matches the tutorial's log line,
// `connected with:  ('127.0.0.1', 50000) Bob` (Python's print of the address
// tuple, IPv6 tuples included), and the `connected with: 127.0.0.1:50000 Bob`
// form ([::1]:50000 for IPv6). The name is everything after the single space
// that follows the address, so leading spaces of the name are kept.
const DefaultLogPattern = logline.DefaultPattern

// ServerConfig describes a server program to wrap.
type ServerConfig struct {
	// Command is the command template, split into argv with shell-like
	// quoting ('single', "double", backslash) but run without a shell.
	// {host} and {port} are replaced by the address to listen on, {addr} by
	// host:port; write {{ and }} for literal braces. Example:
	// `python3 server.py --host {host} --port {port}`.
	Command string

	// LogPattern is a Go regexp with the named groups addr and name. Every
	// line of the program's standard output or standard error it matches
	// becomes one ConnectionEvent. Empty means DefaultLogPattern.
	LogPattern string

	// ReadyTimeout bounds the wait, after the program starts, until its port
	// accepts a connection. Zero means DefaultReadyTimeout.
	ReadyTimeout time.Duration

	// Dir is the program's working directory; empty means the adapter's.
	Dir string
}

// ClientConfig describes a client program to wrap.
type ClientConfig struct {
	// Command is the command template, split like ServerConfig.Command.
	// {host}, {port} and {addr} are replaced by the server's address,
	// {name} by the name to send, {name_file} by the path of a temporary
	// file holding exactly the name's bytes, and {timeout_ms} by the
	// timeout in milliseconds. Without {name} and {name_file} the program
	// gets exactly the name's bytes on its standard input, then end of
	// input (no newline is added).
	Command string

	// ReplyPattern is a Go regexp applied to the program's standard
	// output; the reply is its group named reply if it has one, else the
	// whole match. Empty means all of standard output with a leading
	// prompt such as "Enter the name: " and one trailing line ending
	// removed.
	ReplyPattern string

	// Outcomes are CLASS=EXITCODE mappings (see ParseClientOutcomes): an
	// exit status listed here classifies a failure whatever the program
	// printed.
	Outcomes []string

	// NameArg reports whether Command uses {name}. NewClient and
	// ClientConfigFromEnv derive it from Command; a value set by hand is
	// ignored.
	NameArg bool

	// Dir is the program's working directory; empty means the adapter's.
	Dir string
}

// ServerConfigFromEnv reads a ServerConfig from EnvServerCmd,
// EnvServerLogPattern, EnvReadyTimeout and EnvDir. It fails only on a
// malformed EnvReadyTimeout; NewServer validates the rest.
func ServerConfigFromEnv() (ServerConfig, error) {
	cfg := ServerConfig{
		Command:    os.Getenv(EnvServerCmd),
		LogPattern: os.Getenv(EnvServerLogPattern),
		Dir:        os.Getenv(EnvDir),
	}
	if s := os.Getenv(EnvReadyTimeout); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("%s=%q: want a positive Go duration such as 10s", EnvReadyTimeout, s)
		}
		cfg.ReadyTimeout = d
	}
	return cfg, nil
}

// ClientConfigFromEnv reads a ClientConfig from EnvClientCmd,
// EnvClientReplyPattern, EnvClientOutcomes and EnvDir. It fails only on
// malformed outcome mappings; NewClient validates the rest.
func ClientConfigFromEnv() (ClientConfig, error) {
	cfg := ClientConfig{
		Command:      os.Getenv(EnvClientCmd),
		ReplyPattern: os.Getenv(EnvClientReplyPattern),
		Outcomes:     SplitClientOutcomes(os.Getenv(EnvClientOutcomes)),
		Dir:          os.Getenv(EnvDir),
	}
	if _, err := ParseClientOutcomes(cfg.Outcomes); err != nil {
		return cfg, fmt.Errorf("%s: %w", EnvClientOutcomes, err)
	}
	if t, err := parseTemplate(cfg.Command, clientPlaceholders...); err == nil {
		cfg.NameArg = t.uses["name"]
	}
	return cfg, nil
}
