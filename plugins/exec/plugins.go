package execadapter

import (
	"errors"
	"os"

	"github.com/greetspec/greetspec/core/contract"
)

// PluginsFromEnv builds the roles configured in the environment: a server
// if EnvServerCmd is set, a client if EnvClientCmd is set. It fails when
// neither is set or a configuration is invalid. Serve the result with
// contract.Serve.
func PluginsFromEnv() (contract.Plugins, error) {
	var p contract.Plugins
	if os.Getenv(EnvServerCmd) != "" {
		cfg, err := ServerConfigFromEnv()
		if err != nil {
			return p, err
		}
		if p.Server, err = NewServer(cfg); err != nil {
			return p, err
		}
	}
	if os.Getenv(EnvClientCmd) != "" {
		cfg, err := ClientConfigFromEnv()
		if err != nil {
			return p, err
		}
		if p.Client, err = NewClient(cfg); err != nil {
			return p, err
		}
	}
	if p.Server == nil && p.Client == nil {
		return p, errors.New("exec adapter: set " + EnvServerCmd + " or " + EnvClientCmd)
	}
	return p, nil
}
