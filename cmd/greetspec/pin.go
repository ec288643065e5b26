package main

import (
	"strings"

	"github.com/greetspec/greetspec/core/host"
)

// pinChecksums applies --server-sha256 and --client-sha256 (see
// host.PinSHA256): a plugin whose file has another checksum is refused at
// its first launch, which preflight turns into a setup error (status 2).
func (o *runOptions) pinChecksums() error {
	for _, p := range []struct{ flag, ref, sum, other string }{
		{"--server-sha256", o.server, o.serverSHA256, o.serverCmd + o.target},
		{"--client-sha256", o.client, o.clientSHA256, o.clientCmd},
	} {
		if p.sum == "" {
			continue
		}
		if p.other != "" || p.ref == "" || strings.HasPrefix(p.ref, host.AttachPrefix) {
			return usageErr("%s pins a go-plugin plugin that greetspec starts, given with --server or --client", p.flag)
		}
		if err := host.PinSHA256(p.ref, p.sum); err != nil {
			return usageErr("%s: %v", p.flag, err)
		}
	}
	return nil
}
