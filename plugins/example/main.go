// Command example is the smallest complete greetspec plugin in Go: it
// serves both roles through the contract package. It serves the reference
// implementations; replace them with your own types implementing
// contract.Server and contract.Client.
//
//	go build -o /tmp/my-plugin ./plugins/example
//	go run ./cmd/greetspec run --server /tmp/my-plugin --client /tmp/my-plugin
package main

import (
	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/plugins/reference"
)

func main() {
	contract.Serve(contract.Plugins{
		Server: &reference.Server{},
		Client: reference.Client{},
	})
}
