package execadapter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// tailLines is how many lines of program output error messages quote.
const tailLines = 50

// maxLine bounds one output line; longer lines are cut (and the rest
// discarded) so that a program printing without newlines cannot exhaust
// memory. A name is at most 1024 bytes, so a log line is far shorter.
const maxLine = 1 << 20

// tail keeps the last tailLines lines a program printed on stdout and
// stderr, for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(line string) {
	line = clip(line)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == tailLines {
		copy(t.lines, t.lines[1:])
		t.lines = t.lines[:tailLines-1]
	}
	t.lines = append(t.lines, line)
}

// String returns the kept lines, indented, ready to follow a message; or a
// note that there was no output.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return " (no output)"
	}
	var sb strings.Builder
	sb.WriteString("; last output:")
	for _, l := range t.lines {
		sb.WriteString("\n    ")
		sb.WriteString(escapeText(l))
	}
	return sb.String()
}

// readLines calls fn for every line of r, without its "\n", until r ends.
// A final line without "\n" is delivered too. Lines longer than maxLine are
// cut to maxLine bytes.
func readLines(r io.Reader, fn func(line []byte)) {
	br := bufio.NewReaderSize(r, 64*1024)
	var long []byte // a line longer than the reader's buffer, so far
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if room := maxLine - len(long); room > 0 {
				long = append(long, chunk[:min(len(chunk), room)]...)
			}
			continue
		}
		line := chunk
		if long != nil {
			if room := maxLine - len(long); room > 0 {
				long = append(long, chunk[:min(len(chunk), room)]...)
			}
			line, long = long, nil
		}
		if len(line) > 0 {
			fn(bytes.TrimSuffix(line, []byte("\n")))
		}
		if err != nil {
			return
		}
	}
}

// joined returns the kept lines as one text, for classifying failures.
func (t *tail) joined() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// maxTailLine bounds one line kept for messages and classification: its
// first and last halves are kept, so that the words at the end of a long
// line (an error that quotes a long name, then says "too long") still count.
const maxTailLine = 8 << 10

// clip shortens a line longer than maxTailLine to its head and its tail.
func clip(line string) string {
	if len(line) <= maxTailLine {
		return line
	}
	half := maxTailLine / 2
	return line[:half] + fmt.Sprintf(" [... %d bytes ...] ", len(line)-2*half) + line[len(line)-half:]
}

// lastLine returns the last non-blank kept line, or "".
func (t *tail) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(t.lines[i]) != "" {
			return t.lines[i]
		}
	}
	return ""
}

// empty reports whether no line was kept.
func (t *tail) empty() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lines) == 0
}

// escapeText makes program output safe to put in a message shown on a
// terminal: control characters (C0, DEL, C1, and the line and paragraph
// separators U+2028 and U+2029) become \xNN or \uNNNN escapes, and bytes
// that are not UTF-8 become \xNN, so that no escape sequence a program
// prints can reach the terminal. Backslashes are kept as they are.
func escapeText(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&sb, "\\x%02x", s[i])
		case r == '\t':
			sb.WriteByte('\t')
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, "\\x%02x", r)
		case r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029:
			fmt.Fprintf(&sb, "\\u%04x", r)
		default:
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	return sb.String()
}
