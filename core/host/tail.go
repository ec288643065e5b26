package host

import (
	"bytes"
	"strings"
	"sync"
)

// lineTail keeps the last few lines written to it, for error messages.
type lineTail struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  []byte
}

func newLineTail(max int) *lineTail { return &lineTail{max: max} }

func (t *lineTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.add(string(t.part[:i]))
		t.part = t.part[i+1:]
	}
	if len(t.part) > 4096 { // a line without end must not grow forever
		t.add(string(t.part))
		t.part = nil
	}
	return len(p), nil
}

func (t *lineTail) add(line string) {
	// go-plugin's own debug chatter (hclog JSON) says nothing about why a
	// plugin failed.
	if strings.Contains(line, `"@level":"debug"`) || strings.Contains(line, `"@level":"trace"`) {
		return
	}
	t.lines = append(t.lines, strings.TrimRight(line, "\r"))
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

// String returns the kept lines, oldest first, one per line.
func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.part) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(t.part))
	}
	return strings.Join(lines, "\n")
}
