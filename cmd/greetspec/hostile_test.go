package main

import (
	"strings"
	"testing"
	"time"
)

// A server that floods its log (escape sequences included) and invents
// connections: the run ends in bounded time, judges the real connections
// correctly (SRV-GREET-1 passes), catches the invented ones (SRV-CONC-2
// fails), lets no escape byte through, and leaves nothing behind (runCLI
// checks).
func TestFloodingServer(t *testing.T) {
	t.Parallel()
	start := time.Now()
	r := runCLI(t, 3*time.Minute, "run", "--server", "builtin:hostile/flood", "--label-filter", "SRV-GREET-1 || SRV-CONC-2")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if took := time.Since(start); took > 2*time.Minute {
		t.Errorf("a flooding server kept the run going for %v", took)
	}
	for _, want := range []string{"SRV-GREET-1    MUST   server PASS", "SRV-CONC-2     SHOULD server FAIL"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the verdict lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.ContainsRune(r.stdout+r.stderr, '\x1b') {
		t.Errorf("an escape byte from the plugin reached the output")
	}
}
