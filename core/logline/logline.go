// Package logline turns a greeting server's log lines into the
// ConnectionEvents the specs judge. It is shared by everything that observes
// a server through its log: the exec adapter (a wrapped program's output)
// and address mode with a followed log (--target-log, --target-log-cmd).
//
// A log line carries the peer's address and the name as the server decoded
// and escaped it; it does not carry the raw bytes received, the reply, or
// what ended the name. Events built here therefore set RemoteAddress, Name
// and LogLine only.
package logline

import (
	"bytes"
	"fmt"
	"net"
	"regexp"

	"github.com/greetspec/greetspec/core/contract"
)

// DefaultPattern matches the protocol's log line `connected with: <address>
// <name>`, with the address written as host:port, [v6]:port or as the
// tutorial's Python tuple `('127.0.0.1', 50000)`.
const DefaultPattern = `connected with:\s*(?P<addr>\('[^']*',\s*\d+(?:,\s*\d+,\s*\d+)?\)|\[[^\]\s]*\]:\d+|[^\s\[\]()]+:\d+)(?: (?P<name>.*))?$`

// Parser recognises log lines by a regular expression with the named groups
// addr and name.
type Parser struct {
	re               *regexp.Regexp
	addrIdx, nameIdx int
}

// New compiles pattern (DefaultPattern if empty). The pattern must have the
// named groups (?P<addr>...) and (?P<name>...).
func New(pattern string) (*Parser, error) {
	if pattern == "" {
		pattern = DefaultPattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("log pattern: %w", err)
	}
	p := &Parser{re: re, addrIdx: re.SubexpIndex("addr"), nameIdx: re.SubexpIndex("name")}
	if p.addrIdx < 0 || p.nameIdx < 0 {
		return nil, fmt.Errorf("log pattern %q needs the named groups (?P<addr>...) and (?P<name>...)", pattern)
	}
	return p, nil
}

// Event turns one log line (without or with its line ending; a trailing
// "\r\n" or "\n" is removed) into a ConnectionEvent, or returns nil when the
// line is not a connection line.
func (p *Parser) Event(line []byte) *contract.ConnectionEvent {
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	m := p.re.FindSubmatchIndex(line)
	if m == nil {
		return nil
	}
	var addr, name []byte
	if i := 2 * p.addrIdx; m[i] >= 0 {
		addr = line[m[i]:m[i+1]]
	}
	if i := 2 * p.nameIdx; m[i] >= 0 {
		name = line[m[i]:m[i+1]]
	}
	return &contract.ConnectionEvent{
		RemoteAddress: NormaliseAddr(contract.DecodeUTF8(addr)),
		NameRaw:       append([]byte{}, name...),
		Name:          contract.DecodeUTF8(name),
		LogLine:       contract.DecodeUTF8(line),
	}
}

// pythonAddr matches Python's print of a socket address tuple.
var pythonAddr = regexp.MustCompile(`^\('([^']*)',\s*(\d+)(?:,\s*\d+,\s*\d+)?\)$`)

// NormaliseAddr turns `('127.0.0.1', 50000)` or `127.0.0.1:50000` into
// host:port (IPv6 in brackets); anything else is returned as it is.
func NormaliseAddr(a string) string {
	if m := pythonAddr.FindStringSubmatch(a); m != nil {
		return net.JoinHostPort(m[1], m[2])
	}
	if h, p, err := net.SplitHostPort(a); err == nil {
		return net.JoinHostPort(h, p)
	}
	return a
}
