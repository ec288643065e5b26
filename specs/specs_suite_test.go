package specs_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/greetspec/greetspec/plugins/builtin"
	"github.com/greetspec/greetspec/specs"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func init() { specs.RegisterFlags(flag.CommandLine) }

// TestMain lets this test binary serve the built-in plugins, so the suite
// runs against the reference plugins without building anything else.
func TestMain(m *testing.M) {
	builtin.ServeIfRequested()
	// Race-built plugins launched by the suite would sleep a second at
	// exit (the race runtime's default atexit_sleep_ms).
	if !strings.Contains(os.Getenv("GORACE"), "atexit_sleep_ms") {
		_ = os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "greetspec conformance suite (reference plugins)")
}
