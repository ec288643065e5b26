package execadapter

import (
	"os"
	"strings"
)

// scrubbedPrefixes are the environment variables greetspec and go-plugin
// set for greetspec's own plugin processes (the adapter runs as one): the
// go-plugin handshake (PLUGIN_MIN_PORT, PLUGIN_PROTOCOL_VERSIONS,
// PLUGIN_CLIENT_CERT, ...), the magic cookie GREETSPEC_PLUGIN and the
// adapter's own GREETSPEC_* settings. A wrapped program is not a greetspec
// plugin and must not see them: a program that happens to be built with
// go-plugin would otherwise try to serve a handshake.
var scrubbedPrefixes = []string{"PLUGIN_", "GREETSPEC_"}

// programEnv is the environment of a wrapped program: the adapter's own,
// without greetspec's plugin variables, plus PYTHONUNBUFFERED=1 so that
// Python prints lines as it writes them.
func programEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if scrubbed(name) || name == "PYTHONUNBUFFERED" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONUNBUFFERED=1")
}

func scrubbed(name string) bool {
	for _, p := range scrubbedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
