// Package execadapter wraps an existing server or client program, such as
// the tutorial's Python scripts, as a greetspec plugin, so that it can be
// tested without writing plugin code. The greetspec binary serves it as a
// built-in plugin configured through environment variables (see
// [ServerConfigFromEnv], [ClientConfigFromEnv] and [PluginsFromEnv]).
//
// # Command templates
//
// A command template is split into arguments with shell-like quoting
// ('single', "double", backslash) but is never run by a shell. Placeholders
// are then replaced inside each argument, so a substituted name with spaces,
// quotes or `$(...)` stays one literal argument. A server template may use
// {host}, {port}, {addr} (host:port) and {idle_timeout_ms}; a client
// template {host}, {port}, {addr} and {name}. A client template without
// {name} gets the name on standard input, followed by a newline and end of
// input. Write {{ and }} for literal braces; unknown placeholders are
// rejected by [NewServer] and [NewClient]. Both programs get
// PYTHONUNBUFFERED=1 in their environment so that Python prints lines as
// they happen.
//
// # Server
//
// Each Start runs a fresh program in a process group of its own (on Linux
// with a parent-death signal, so it dies with the adapter), waits until its
// port accepts a TCP connection, and turns every line of its output that
// matches the log pattern into a ConnectionEvent with the remote address
// (normalised to host:port), the name and the whole log line. What the
// adapter cannot see (the reply, what ended the name) stays empty. Stop
// ends the whole group.
//
// # Client
//
// Each Greet runs the program once, bounded by the request's timeout, and
// takes the reply from its standard output: by default the last non-empty
// line with a leading prompt such as "Enter the name: " removed. Failures
// are classified from the exit status and output: killed at the timeout, or
// output saying "timed out", is TIMEOUT; a non-zero exit whose output says
// "connection refused" is REFUSED, "reset" is RESET, anything else OTHER;
// exit status 0 without a reply is CLOSED_EARLY.
package execadapter
