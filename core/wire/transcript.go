package wire

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Record is one entry of a Transcript.
type Record struct {
	// At is the time since the connection started (the Dial call or the
	// accept).
	At time.Duration
	// Kind is one of "connect", "accept", "send", "recv", "close-write",
	// "abort", "close", "end" or "note".
	Kind string
	// Data holds the bytes sent or received, if any. It is a copy.
	Data []byte
	// Detail is free text: addresses, errors, how a read ended.
	Detail string
	// Began is, for a "send" record, when the write call started (At is
	// when it returned); zero for other kinds. The peer cannot have
	// received the sent bytes before Began.
	Began time.Duration
}

// Transcript is an append-only, goroutine-safe record of everything done on
// one connection and everything it received.
type Transcript struct {
	start time.Time

	mu      sync.Mutex
	records []Record
}

func newTranscript(start time.Time) *Transcript {
	return &Transcript{start: start}
}

// add appends a record, copying data so later changes by the caller do not
// rewrite history.
func (t *Transcript) add(kind string, data []byte, detail string) {
	t.addSince(kind, data, detail, 0)
}

// Now returns the time since the connection started, on the clock of the
// records' At.
func (t *Transcript) Now() time.Duration { return time.Since(t.start) }

// addSince is add with a record's Began.
func (t *Transcript) addSince(kind string, data []byte, detail string, began time.Duration) {
	r := Record{At: time.Since(t.start), Kind: kind, Detail: detail, Began: began}
	if len(data) > 0 {
		r.Data = append([]byte(nil), data...)
	}
	t.mu.Lock()
	t.records = append(t.records, r)
	t.mu.Unlock()
}

// Note appends a "note" record, so a spec can mark its own steps (what it is
// about to check, which requirement) among the wire events.
func (t *Transcript) Note(format string, args ...any) {
	t.add("note", nil, fmt.Sprintf(format, args...))
}

// Records returns a copy of the records so far, oldest first.
func (t *Transcript) Records() []Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Record(nil), t.records...)
}

// Received returns every byte the connection has received so far, in order.
func (t *Transcript) Received() []byte {
	var b []byte
	for _, r := range t.Records() {
		if r.Kind == "recv" {
			b = append(b, r.Data...)
		}
	}
	return b
}

// renderLimit caps how many bytes of one record String shows; a 64 KiB name
// in full would bury the rest of a failure report.
const renderLimit = 64

// String renders the transcript one record per line: time in milliseconds,
// kind, detail, and data as a byte count, hex and Go-quoted text.
func (t *Transcript) String() string {
	var sb strings.Builder
	for _, r := range t.Records() {
		line := fmt.Sprintf("%9.3fms %-11s", float64(r.At.Microseconds())/1000, r.Kind)
		if r.Detail != "" {
			line += " " + r.Detail
		}
		if r.Data != nil {
			line += " " + renderData(r.Data)
		}
		sb.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return sb.String()
}

func renderData(b []byte) string {
	shown, more := b, 0
	if len(b) > renderLimit {
		shown, more = b[:renderLimit], len(b)-renderLimit
	}
	s := fmt.Sprintf("%d bytes: % x %s", len(b), shown, strconv.Quote(string(shown)))
	if more > 0 {
		s += fmt.Sprintf(" ... (%d more bytes)", more)
	}
	return s
}
