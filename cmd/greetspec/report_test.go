package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A run against a faulty plugin names the broken requirement in the HTML
// report, and an expected-failure list round-trips: green when it matches,
// red naming the unexpected failure or pass when it does not.
func TestHTMLReportAndExpectedFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	page, list := filepath.Join(dir, "run.html"), filepath.Join(dir, "expected.txt")
	faulty := []string{"run", "--server", "builtin:faulty/greeting-capitalised", "--label-filter", "SRV-GREET-1 || SRV-GREET-3"}

	r := runCLI(t, 5*time.Minute, append(faulty, "--report-html", page, "--write-expected-failures", list)...)
	if r.code != 1 {
		t.Fatalf("faulty run: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), `<tr class="fail" id="SRV-GREET-1">`) || !strings.Contains(string(html), "--label-filter SRV-GREET-1") {
		t.Errorf("the HTML report does not show SRV-GREET-1 failed with its repro command")
	}
	if b, _ := os.ReadFile(list); !strings.HasPrefix(strings.TrimSpace(lastLine(string(b))), "SRV-GREET-1") {
		t.Errorf("written expected-failure list:\n%s", b)
	}

	if r := runCLI(t, 5*time.Minute, append(faulty, "--expect-failures", list)...); r.code != 0 || !strings.Contains(r.stdout, "match the list") {
		t.Errorf("matching list: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The reference passes SRV-GREET-1: an unexpected pass.
	r = runCLI(t, 5*time.Minute, "run", "--server", "builtin:reference", "--label-filter", "SRV-GREET-1", "--expect-failures", list)
	if r.code != 1 || !strings.Contains(r.stdout, "unexpected pass of SRV-GREET-1") {
		t.Errorf("unexpected pass: exit %d, want 1 naming it\n%s%s", r.code, r.stdout, r.stderr)
	}
	// An empty list and a failure: an unexpected failure.
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, []byte("# nothing known to fail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, 5*time.Minute, append(faulty, "--expect-failures", empty)...)
	if r.code != 1 || !strings.Contains(r.stdout, "unexpected failure of SRV-GREET-1") {
		t.Errorf("unexpected failure: exit %d, want 1 naming it\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A list naming no requirement of PROTOCOL.md is a usage error.
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("SRV-NOPE-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, time.Minute, "run", "--expect-failures", bad); r.code != 2 {
		t.Errorf("unknown ID in the list: exit %d, want 2", r.code)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
