package contract

import (
	"strings"
	"testing"
)

func TestDecodeUTF8(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"Zoë", "Zoë"},
		{"\x80", "\uFFFD"},
		{"A\xE2\x82B", "A\uFFFDB"},
		{"\xC0\xAF", "\uFFFD\uFFFD"},
		{"\xE0\x80\xAF", "\uFFFD\uFFFD\uFFFD"},
		{"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xF0\x9F\x98", "\uFFFD"},
		{"\xF0\x9F\x98A", "\uFFFDA"},
		{"\xFF\xF5", "\uFFFD\uFFFD"},
	} {
		if got := DecodeUTF8([]byte(c.in)); got != c.want {
			t.Errorf("DecodeUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEscapeLogName(t *testing.T) {
	for in, want := range map[string]string{
		"Bob":             "Bob",
		"a\nconnected":    `a\nconnected`,
		"\x1b[31mred":     `\x1b[31mred`,
		"nul\x00del\x7f":  `nul\x00del\x7f`,
		"nel\u0085":       `nel\x85`,
		`back\slash`:      `back\\slash`,
		"日本":              "日本",
		"a\u2028b\u2029c": `a\u2028b\u2029c`,
		// Not control characters: logged as they are (decision 16).
		"nb\u00a0sp zw\u200bsp zwj\u200d shy\u00ad bom\ufeff":                   "nb\u00a0sp zw\u200bsp zwj\u200d shy\u00ad bom\ufeff",
		"rlo\u202eltr\u200e pua\ue000 unassigned\U000e0080 nonchar\ufdd0\uffff": "rlo\u202eltr\u200e pua\ue000 unassigned\U000e0080 nonchar\ufdd0\uffff",
		"e\u0301": "e\u0301",
	} {
		if got := EscapeLogName(in); got != want {
			t.Errorf("EscapeLogName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapedInLog(t *testing.T) {
	for r := rune(0); r <= 0x10FFFF; r++ {
		want := r < 0x20 || (r >= 0x7F && r < 0xA0) || r == 0x2028 || r == 0x2029
		if got := EscapedInLog(r); got != want {
			t.Fatalf("EscapedInLog(%U) = %v, want %v", r, got, want)
		}
		if want && r > 0x10 {
			if s := EscapeLogName(string(r)); strings.ContainsFunc(s, EscapedInLog) {
				t.Fatalf("EscapeLogName(%U) = %q keeps an escaped character", r, s)
			}
		}
	}
}
