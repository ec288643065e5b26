package host

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/hashicorp/go-plugin"
)

// AttachPrefix starts a reference to a plugin that was started by hand (in
// an IDE, under a debugger) and printed its attach details: the host
// connects to it instead of starting a process.
const AttachPrefix = "attach:"

// parseAttachRef turns "attach:DETAILS" (the JSON a plugin prints when
// started with contract.AttachEnv set, or @FILE holding it) into a Spec.
func parseAttachRef(ref string) (Spec, error) {
	s := strings.TrimSpace(strings.TrimPrefix(ref, AttachPrefix))
	if file, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return Spec{}, fmt.Errorf("attach details: %w", err)
		}
		s = strings.TrimSpace(string(b))
	}
	// Accept the whole line the plugin printed, too.
	s = strings.TrimSpace(strings.TrimPrefix(s, contract.AttachLinePrefix))
	var d contract.AttachDetails
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return Spec{}, fmt.Errorf("attach details %q: want the JSON the plugin printed when started with %s=1: %v", s, contract.AttachEnv, err)
	}
	if d.Network != "tcp" && d.Network != "unix" {
		return Spec{}, fmt.Errorf("attach details: network %q: want tcp or unix", d.Network)
	}
	if d.Address == "" || d.PID <= 0 {
		return Spec{}, fmt.Errorf("attach details: an address and a pid are needed")
	}
	if d.ProtocolVersion != int(contract.Handshake.ProtocolVersion) {
		return Spec{}, fmt.Errorf("attach details: the plugin speaks protocol version %d, this greetspec speaks %d", d.ProtocolVersion, contract.Handshake.ProtocolVersion)
	}
	return Spec{Name: fmt.Sprintf("attached plugin (pid %d, %s)", d.PID, d.Address), Attach: &d}, nil
}

// attach connects to a running plugin. Closing the Plugin disconnects and
// leaves the process running: whoever started it ends it.
func attach(spec Spec, opts Options) (*Plugin, error) {
	d := spec.Attach
	var addr net.Addr
	var err error
	if d.Network == "unix" {
		addr, err = net.ResolveUnixAddr("unix", d.Address)
	} else {
		addr, err = net.ResolveTCPAddr("tcp", d.Address)
	}
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", spec, err)
	}
	if err := checkAlive(d.PID); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", spec, err)
	}
	p := &Plugin{spec: spec, opts: opts, tail: newLineTail(20), attached: true}
	p.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  contract.Handshake,
		Plugins:          contract.HostPlugins(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Reattach: &plugin.ReattachConfig{
			Protocol:        plugin.ProtocolGRPC,
			ProtocolVersion: d.ProtocolVersion,
			Addr:            addr,
			Pid:             d.PID,
			Test:            true, // never kill a process we did not start
		},
		StartTimeout: opts.StartTimeout,
		Logger:       newLogger(spec.String(), opts.Log, opts.LogLevel),
	})
	if _, err := p.client.Client(); err != nil {
		p.client.Kill()
		return nil, p.explain("attach", err)
	}
	return p, nil
}
