package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is Debian's browser, installed by .ci/run.
const chromium = "/usr/bin/chromium"

// openPage opens page in headless Chromium and returns the chromedp
// context of its tab; the browser goes away when the test ends.
func openPage(t *testing.T, page string) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: .ci/run installs Debian's chromium", chromium)
		}
		t.Skipf("%s is missing (Debian package chromium)", chromium)
	}
	profile, err := os.MkdirTemp("", "greetspec-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		// Chromium's helpers may write into the profile briefly after exit.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+abs)); err != nil {
		t.Fatalf("opening %s in the browser: %v", page, err)
	}
	return ctx
}

// run runs one browser action and returns its value, failing the test on
// an error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("in the browser: %v", err)
	}
	return v
}

// visibleText is the text a reader sees in the first element matching css,
// or "" when it is hidden (for example inside a closed <details>).
func visibleText(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[string](`(function(){var e=document.querySelector(`+"`"+css+"`"+`);return e&&e.checkVisibility()?e.innerText:"";})()`))
}

// screenshot saves a PNG of the page to path when GREETSPEC_SCREENSHOTS is
// set (how the pictures in the README are made).
func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	if os.Getenv("GREETSPEC_SCREENSHOTS") == "" {
		return
	}
	png := run(t, ctx, chromedp.CaptureScreenshot())
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The run report, as a reader sees it in a browser: the verdict table, the
// failed requirement, and its reason once its row is expanded.
func TestRunReportInBrowser(t *testing.T) {
	t.Parallel()
	page := filepath.Join(t.TempDir(), "run.html")
	r := runCLI(t, 5*time.Minute, "run", "--server", "builtin:faulty/greeting-capitalised", "--client", "builtin:reference",
		"--label-filter", "greeting", "--report-html", page)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	ctx := openPage(t, page)
	rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#verdicts tbody tr").length`))
	verdict := visibleText(t, ctx, "#SRV-GREET-1 td.v")
	reasonBefore := visibleText(t, ctx, "#SRV-GREET-1 details pre.message")
	screenshot(t, ctx, "../../specs/report/screenshots/run.png")
	run(t, ctx, chromedp.Click(chromedp.CSS("#SRV-GREET-1 details summary")))
	reasonAfter := visibleText(t, ctx, "#SRV-GREET-1 details pre.message")
	if rows != 27 {
		t.Errorf("the table shows %d requirements, want 27", rows)
	}
	if strings.TrimSpace(verdict) != "FAIL" {
		t.Errorf("SRV-GREET-1 shows %q, want FAIL", verdict)
	}
	if reasonBefore != "" {
		t.Errorf("the failure's reason is visible before the row is expanded")
	}
	if !strings.Contains(reasonAfter, "welcome") {
		t.Errorf("the expanded row shows %q, want the failure message", reasonAfter)
	}
}

// The interop matrix of the reference, Python, alternative and tutorial
// implementations, as a reader sees it: the grid, and the real outcome of
// the tutorial client with the reference server and the reference client
// with the tutorial server, expanded.
func TestMatrixInBrowser(t *testing.T) {
	requireDebianPythonGRPC(t)
	t.Parallel()
	page := filepath.Join(t.TempDir(), "matrix.html")
	python := "/usr/bin/python3 ../../plugins/python/greet_plugin.py"
	tutServer := "cmd:/usr/bin/python3 ../../plugins/tutorial/server.py {host} {port}"
	tutClient := "cmd:/usr/bin/python3 ../../plugins/tutorial/client.py {host} {port}"
	r := runCLI(t, 10*time.Minute, "matrix",
		"--servers", strings.Join([]string{"builtin:reference", python, "builtin:alt/eventloop-server", tutServer}, ","),
		"--clients", strings.Join([]string{"builtin:reference", python, "builtin:alt/bytewise-client", tutClient}, ","),
		"--report-html", page)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (the tutorial client fails)\n%s%s", r.code, r.stdout, r.stderr)
	}
	cell := func(server, client string) string {
		return `td[data-server="` + server + `"][data-client="` + client + `"]`
	}
	ctx := openPage(t, page)
	cells := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#matrix tbody td").length`))
	refRef := visibleText(t, ctx, cell("builtin:reference", "builtin:reference")+" .v")
	tutClientRef := visibleText(t, ctx, cell("builtin:reference", tutClient)+" .v")
	refTutServer := visibleText(t, ctx, cell(tutServer, "builtin:reference")+" .v")
	run(t, ctx, chromedp.Click(chromedp.CSS(cell("builtin:reference", tutClient)+" summary")))
	expanded := visibleText(t, ctx, cell("builtin:reference", tutClient)+" ul")
	screenshot(t, ctx, "../../specs/report/screenshots/matrix.png")
	if cells != 16 {
		t.Errorf("the grid has %d cells, want 16", cells)
	}
	if refRef != "OK" {
		t.Errorf("reference x reference shows %q, want OK", refRef)
	}
	// The tutorial client never half-closes, so an empty name deadlocks
	// until the server's idle timeout, and it sends names over 1024 bytes.
	if tutClientRef != "FAIL" || !strings.Contains(expanded, "over 1024 bytes") {
		t.Errorf("tutorial client x reference server shows %q, expanded %q; want FAIL naming the over-long name", tutClientRef, expanded)
	}
	// The reference client half-closes and reads to FIN, which the
	// tutorial server's single recv serves well enough for these names.
	if refTutServer != "OK" {
		t.Errorf("reference client x tutorial server shows %q, want OK", refTutServer)
	}
}

// A matrix split in three shards and merged equals the unsharded matrix.
func TestMatrixShardsMerge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"matrix", "--servers", "builtin:reference,builtin:faulty/empty-name-ignored", "--clients", "builtin:reference,builtin:faulty/appends-newline"}
	whole := runCLI(t, 5*time.Minute, append(args, "--markdown", filepath.Join(dir, "whole.md"))...)
	var parts []string
	for i := 1; i <= 3; i++ {
		p := filepath.Join(dir, "shard"+string(rune('0'+i))+".json")
		runCLI(t, 5*time.Minute, append(args, "--shard", string(rune('0'+i))+"/3", "--json", p)...)
		parts = append(parts, p)
	}
	merged := runCLI(t, time.Minute, "matrix", "--merge", strings.Join(parts, ","), "--markdown", filepath.Join(dir, "merged.md"))
	a, _ := os.ReadFile(filepath.Join(dir, "whole.md"))
	b, _ := os.ReadFile(filepath.Join(dir, "merged.md"))
	if whole.code != 1 || merged.code != whole.code || len(a) == 0 || string(a) != string(b) {
		t.Errorf("merged shards differ from the whole matrix (exit %d vs %d):\n%s\n---\n%s", whole.code, merged.code, a, b)
	}
}
