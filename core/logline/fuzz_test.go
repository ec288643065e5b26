package logline

import (
	"bytes"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/fixtures"
)

// logLines returns the log lines a conforming server writes for the
// fixtures' names, in both address forms.
func logLines() [][]byte {
	var names [][]byte
	for _, n := range fixtures.Names() {
		names = append(names, n.Bytes)
	}
	for _, n := range fixtures.ControlNames() {
		names = append(names, []byte(contract.EscapeLogName(n.Name)))
	}
	for _, c := range fixtures.InvalidUTF8() {
		names = append(names, c.Bytes)
	}
	var lines [][]byte
	for _, n := range names {
		lines = append(lines,
			append([]byte("connected with: 127.0.0.1:50000 "), n...),
			append([]byte("connected with: ('127.0.0.1', 50000) "), n...),
			append([]byte("2024-01-01 connected with: [::1]:50000 "), append(n, '\r', '\n')...))
	}
	return lines
}

func FuzzEvent(f *testing.F) {
	for _, l := range logLines() {
		f.Add(l)
	}
	f.Add([]byte("listening on 127.0.0.1:5000"))
	p, err := New("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ev := p.Event(line)
		// A line ending changes nothing.
		for _, end := range []string{"\n", "\r\n"} {
			if bytes.HasSuffix(line, []byte("\r")) || bytes.HasSuffix(line, []byte("\n")) {
				break
			}
			ev2 := p.Event(append(bytes.Clone(line), end...))
			if (ev == nil) != (ev2 == nil) || (ev != nil && (ev.Name != ev2.Name || ev.RemoteAddress != ev2.RemoteAddress)) {
				t.Fatalf("Event(%q) = %v but with %q = %v", line, ev, end, ev2)
			}
		}
		if ev == nil {
			return
		}
		for _, s := range []string{ev.Name, ev.RemoteAddress, ev.LogLine} {
			if !utf8.ValidString(s) {
				t.Fatalf("Event(%q): %q is not valid UTF-8", line, s)
			}
		}
		if ev.Name != contract.DecodeUTF8(ev.NameRaw) {
			t.Fatalf("Event(%q): Name %q is not the decoding of NameRaw %x", line, ev.Name, ev.NameRaw)
		}
		if NormaliseAddr(ev.RemoteAddress) != ev.RemoteAddress {
			t.Fatalf("Event(%q): address %q is not normalised", line, ev.RemoteAddress)
		}
	})
}

func FuzzEventRoundTrip(f *testing.F) {
	for _, n := range fixtures.Names() {
		f.Add(uint16(50000), n.Bytes, false)
	}
	for _, c := range fixtures.InvalidUTF8() {
		f.Add(uint16(1), c.Bytes, true)
	}
	p, err := New("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, port uint16, name []byte, python bool) {
		// A server escapes line breaks (SRV-LOG-2): what it logs is one
		// line. The name is decoded and escaped as a server would.
		logged := contract.EscapeLogName(contract.DecodeUTF8(name))
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		line := "connected with: " + addr + " " + logged
		if python {
			line = fmt.Sprintf("connected with: ('127.0.0.1', %d) %s", port, logged)
		}
		ev := p.Event([]byte(line + "\n"))
		if ev == nil {
			t.Fatalf("Event(%q) found no connection line", line)
		}
		if ev.RemoteAddress != addr || ev.Name != logged {
			t.Fatalf("Event(%q) = addr %q name %q, want %q and %q", line, ev.RemoteAddress, ev.Name, addr, logged)
		}
	})
}
