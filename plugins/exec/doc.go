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
// {host}, {port}, {addr} (host:port) and {idle_timeout_ms}, and must use
// {port} or {addr}; a client template {host}, {port}, {addr}, {name},
// {name_file} and {timeout_ms}. Write {{ and }} for literal braces; unknown
// placeholders are rejected by [NewServer] and [NewClient]. Wrapped
// programs run without greetspec's own plugin environment (PLUGIN_*,
// GREETSPEC_*) and with PYTHONUNBUFFERED=1.
//
// The whole contract a wrapped program must meet (placeholders, standard
// input, reply, failure words and exit statuses, log lines, what can be
// observed through this channel) is in CONTRACT.md next to this file.
//
// # Server
//
// Start runs a program in a process group of its own (on Linux
// with a parent-death signal, so it dies with the adapter), waits until its
// port accepts a TCP connection, and turns every line of its output that
// matches the log pattern into a ConnectionEvent with the remote address
// (normalised to host:port), the name and the whole log line. Its stdout
// and stderr are read through pseudo-terminals in raw mode, so programs
// that line-buffer a terminal show each line as it is written. What the
// adapter cannot see (the reply, what ended the name) stays empty. Stop
// ends the whole group, and fails with the program's exit status and last
// stderr line if the program had exited on its own. After a run that did
// not fail the host asks for StopKeeping instead ([contract.ServerKeeper],
// StopRequest.reusable): the program keeps running, and the next Start
// with the same command line reuses it after a fence connection that
// separates its log lines from the earlier run's. An exit during a run is
// also signalled through [contract.ServerExit]: the Events stream ends
// with the exit status and last stderr line as a gRPC Aborted status.
//
// # Client
//
// Each Greet runs the program once. The name arrives on standard input,
// exactly its bytes and then end of input, unless the template uses
// {name} or {name_file}. The reply is all of standard output with a
// leading prompt such as "Enter the name: " and one trailing line ending
// removed (or what --client-reply-pattern picks). Success is exit status 0
// with a reply; a failure is classified from --client-outcome exit-status
// mappings, then from well-known words in the program's output (see
// CONTRACT.md). The program's timeout is passed as {timeout_ms}; the
// adapter kills its process group ClientKillGrace after it.
package execadapter
