package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/testsupport"
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
// ignored) into dir. It returns errNotCheckout outside a git checkout.
func copyRepo(root, dir string) error {
	list := exec.Command("git", "ls-files", "-co", "--exclude-standard")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		return fmt.Errorf("%w: %v", errNotCheckout, err)
	}
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		src := filepath.Join(root, f)
		fi, err := os.Stat(src)
		if err != nil || fi.IsDir() {
			continue // deleted in the work tree, or a submodule
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

var errNotCheckout = errors.New("not a git checkout")

// docCommand is one `go run ./cmd/greetspec` command of a CONTRIBUTING.md
// block, as the block ran it: greetspec's arguments after the shell's
// parsing, its exit status and standard output.
type docCommand struct {
	args   []string
	code   int
	stdout string
}

// docBlockRun is what running one block gave.
type docBlockRun struct {
	once     sync.Once
	err      error // the block did not end as the document says
	skip     error // the block could not be run here (errNotCheckout)
	commands []docCommand
}

var docRuns sync.Map // block line -> *docBlockRun

// docPrelude runs `go run ./cmd/greetspec ARGS` as the greetspec binary
// built once ($GREETSPEC_BIN), keeping each such command's arguments, exit
// status and standard output in $GREETSPEC_DOC_LOG; other go commands run
// as they are.
const docPrelude = `go() {
  if [ "$1" = run ] && [ "$2" = ./cmd/greetspec ]; then
    shift 2
    __n=$((${__n:-0}+1)); __f="$GREETSPEC_DOC_LOG/$BASHPID-$__n"
    printf '%s\0' "$@" > "$__f.args"
    "$GREETSPEC_BIN" "$@" > "$__f.out"; __s=$?
    cat "$__f.out"; echo "$__s" > "$__f.code"
    return "$__s"
  fi
  command go "$@"
}
`

// runDocBlock runs block b of CONTRIBUTING.md once per test process, in a
// fresh copy of the repository at root, and returns what it gave: the test
// of the document and the tests that check a documented run (for example
// that the Python plugin passes) share the run.
func runDocBlock(t *testing.T, root string, b docBlock) *docBlockRun {
	t.Helper()
	v, _ := docRuns.LoadOrStore(b.line, &docBlockRun{})
	run := v.(*docBlockRun)
	bin := greetspecBinary(t)
	run.once.Do(func() {
		dir, err := os.MkdirTemp("", "greetspec-doc-")
		if err != nil {
			run.err = err
			return
		}
		defer os.RemoveAll(dir)
		copy, log := filepath.Join(dir, "repo"), filepath.Join(dir, "log")
		if err := os.MkdirAll(log, 0o755); err != nil {
			run.err = err
			return
		}
		if err := copyRepo(root, copy); err != nil {
			if errors.Is(err, errNotCheckout) {
				run.skip = err
			} else {
				run.err = err
			}
			return
		}
		marker, err := testsupport.NewMarker("GREETSPEC_TEST_MARKER")
		if err != nil {
			run.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", docPrelude+b.script)
		cmd.Dir = copy
		// -trimpath: the copy's packages compile to what the checkout's
		// compiled to before, so the build cache serves them.
		cmd.Env = append(os.Environ(), "GREETSPEC_BIN="+bin, "GREETSPEC_DOC_LOG="+log, "GREETSPEC_CLI_TEST=", "GOFLAGS=-trimpath", marker.Env())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			run.err = fmt.Errorf("CONTRIBUTING.md block at line %d: %v\n%s\n--- output (last 4000 bytes):\n%s", b.line, err, b.script, lastBytes(out.Bytes(), 4000))
		}
		// As runCLI checks of its runs: nothing the commands started
		// outlives them.
		if left := marker.Kill(); len(left) > 0 && run.err == nil {
			run.err = fmt.Errorf("CONTRIBUTING.md block at line %d: processes %v outlived it", b.line, left)
		}
		run.commands, err = readDocLog(log)
		if err != nil && run.err == nil {
			run.err = err
		}
	})
	return run
}

// readDocLog reads the commands docPrelude kept.
func readDocLog(dir string) ([]docCommand, error) {
	argFiles, err := filepath.Glob(filepath.Join(dir, "*.args"))
	if err != nil {
		return nil, err
	}
	var cmds []docCommand
	for _, f := range argFiles {
		base := strings.TrimSuffix(f, ".args")
		args, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		codeText, err := os.ReadFile(base + ".code")
		if err != nil {
			continue // the block was cut short while it ran
		}
		code, err := strconv.Atoi(strings.TrimSpace(string(codeText)))
		if err != nil {
			return nil, fmt.Errorf("%s.code: %v", base, err)
		}
		out, err := os.ReadFile(base + ".out")
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, docCommand{strings.Split(strings.TrimSuffix(string(args), "\x00"), "\x00"), code, string(out)})
	}
	return cmds, nil
}

// documentedRun returns the result of the greetspec command with exactly
// args that a block of CONTRIBUTING.md runs, so that a test checking that
// run (for example that the Python plugin passes) shares it with
// TestContributingCommands instead of running it once more. ok is false
// when no block runs that command, or the blocks cannot run here: the
// caller then runs the command itself.
func documentedRun(t *testing.T, args ...string) (r cliResult, ok bool) {
	t.Helper()
	root, doc := contributingDoc(t)
	for _, b := range shBlocks(doc) {
		if b.skip != "" || !mayRun(b.script, args) {
			continue
		}
		run := runDocBlock(t, root, b)
		for _, c := range run.commands {
			if slices.Equal(c.args, args) {
				return cliResult{code: c.code, stdout: c.stdout}, true
			}
		}
	}
	return cliResult{}, false
}

// contributingDoc returns the project's root and the text of its
// CONTRIBUTING.md.
func contributingDoc(t *testing.T) (root, doc string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "CONTRIBUTING.md"))
	if err != nil {
		t.Fatal(err)
	}
	return root, string(data)
}

// mayRun reports whether a block's script may hold the greetspec command
// with args: it names greetspec's subcommand and holds every argument (the
// shell's quoting aside), so that only blocks that may are run for it.
func mayRun(script string, args []string) bool {
	if !strings.Contains(script, "go run ./cmd/greetspec "+args[0]) {
		return false
	}
	for _, a := range args {
		if !strings.Contains(script, a) {
			return false
		}
	}
	return true
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
	root, doc := contributingDoc(t)
	blocks := shBlocks(doc)
	if len(blocks) < 5 {
		t.Fatalf("CONTRIBUTING.md has %d sh blocks; the walk-throughs have more", len(blocks))
	}
	for _, b := range blocks {
		t.Run(fmt.Sprintf("line-%d", b.line), func(t *testing.T) {
			t.Parallel()
			if b.skip != "" {
				t.Skip(b.skip)
			}
			if b.skip == "" && strings.Contains(b.script, skipMarker) {
				t.Fatalf("a block is skipped without a reason")
			}
			run := runDocBlock(t, root, b)
			if run.skip != nil {
				t.Skip(run.skip)
			}
			if run.err != nil {
				t.Fatal(run.err)
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
