package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// docBlock is one ```sh block of a document, as a script.
type docBlock struct {
	line   int
	script string
	skip   string // why the block is not run, if it is not
}

// skipMarker starts the first line of a block the test does not run; the
// reason must follow.
const skipMarker = "# not run by the test:"

// wantExit matches a command's trailing "# exit N" comment.
var wantExit = regexp.MustCompile(`\s+#\s*exit (\d+)\b.*$`)

// shBlocks returns the ```sh blocks of a Markdown document, each command
// (continuation lines joined) turned into a line that checks its exit
// status: 0, or the N of a trailing "# exit N".
func shBlocks(doc string) []docBlock {
	var out []docBlock
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		b := docBlock{line: i + 1}
		var cmds []string
		pending := ""
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			l := lines[i]
			if strings.HasPrefix(strings.TrimSpace(l), skipMarker) {
				b.skip = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), skipMarker))
			}
			if strings.HasSuffix(l, "\\") {
				pending += strings.TrimSuffix(l, "\\") + " "
				continue
			}
			cmd := pending + l
			pending = ""
			if strings.TrimSpace(cmd) == "" || strings.HasPrefix(strings.TrimSpace(cmd), "#") {
				continue
			}
			want := "0"
			if m := wantExit.FindStringSubmatch(cmd); m != nil {
				want, cmd = m[1], strings.TrimSuffix(cmd, m[0])
			}
			cmds = append(cmds, fmt.Sprintf("{ %s\n} && s=0 || s=$?; [ $s -eq %s ] || { echo \"line %d: exit $s, want %s\" >&2; exit 1; }", cmd, want, i+1, want))
		}
		b.script = strings.Join(cmds, "\n")
		out = append(out, b)
	}
	return out
}

// copyRepo copies the repository's files (tracked and untracked, not
// ignored) into dir.
func copyRepo(t *testing.T, root, dir string) {
	t.Helper()
	list := exec.Command("git", "ls-files", "-co", "--exclude-standard")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		src := filepath.Join(root, f)
		fi, err := os.Stat(src)
		if err != nil || fi.IsDir() {
			continue // deleted in the work tree, or a submodule
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// Every command CONTRIBUTING.md shows in a ```sh block runs, as written, in
// a fresh copy of the repository, and ends with the exit status the
// document gives it (0 unless a "# exit N" comment says otherwise). A block
// that cannot run here says why on its first line. `go run ./cmd/greetspec`
// runs a greetspec built once, so the commands stay as written without
// compiling greetspec per line.
func TestContributingCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every command of CONTRIBUTING.md")
	}
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "CONTRIBUTING.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shBlocks(string(doc))
	if len(blocks) < 5 {
		t.Fatalf("CONTRIBUTING.md has %d sh blocks; the walk-throughs have more", len(blocks))
	}
	bin := greetspecBinary(t)
	prelude := `go() { if [ "$1" = run ] && [ "$2" = ./cmd/greetspec ]; then shift 2; "$GREETSPEC_BIN" "$@"; else command go "$@"; fi; }` + "\n"
	for _, b := range blocks {
		t.Run(fmt.Sprintf("line-%d", b.line), func(t *testing.T) {
			t.Parallel()
			if b.skip != "" {
				t.Skip(b.skip)
			}
			if b.skip == "" && strings.Contains(b.script, skipMarker) {
				t.Fatalf("a block is skipped without a reason")
			}
			dir := t.TempDir()
			copyRepo(t, root, dir)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-c", prelude+b.script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GREETSPEC_BIN="+bin, "GREETSPEC_CLI_TEST=")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("CONTRIBUTING.md block at line %d: %v\n%s\n--- output (last 4000 bytes):\n%s", b.line, err, b.script, lastBytes(out.Bytes(), 4000))
			}
		})
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
