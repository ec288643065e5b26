package execadapter

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
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
		sb.WriteString(strings.ToValidUTF8(l, "\uFFFD"))
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
