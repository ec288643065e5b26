package host_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/fixtures"
	"github.com/greetspec/greetspec/plugins/hostile"
)

func FuzzEscapeText(f *testing.F) {
	f.Add([]byte(hostile.ANSIText))
	f.Add([]byte("line one\nline\ttwo\r\n"))
	for _, c := range fixtures.InvalidUTF8() {
		f.Add(c.Bytes)
	}
	for _, n := range fixtures.ControlNames() {
		f.Add(n.Bytes)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := host.EscapeText(string(b))
		if !utf8.ValidString(got) {
			t.Fatalf("EscapeText(%q) = %q is not valid UTF-8", b, got)
		}
		for _, r := range got {
			if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7F && r <= 0x9F) || r == 0x2028 || r == 0x2029 {
				t.Fatalf("EscapeText(%q) = %q keeps control character %U", b, got, r)
			}
		}
		if strings.Count(got, "\n") != strings.Count(string(b), "\n") {
			t.Fatalf("EscapeText(%q) = %q changed the line structure", b, got)
		}
		if utf8.Valid(b) && !strings.ContainsFunc(string(b), func(r rune) bool {
			return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7F && r <= 0x9F) || r == 0x2028 || r == 0x2029
		}) && got != string(b) {
			t.Fatalf("EscapeText changed clean text %q into %q", b, got)
		}
	})
}
