package contract

import "testing"

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
		"Bob":            "Bob",
		"a\nconnected":   `a\nconnected`,
		"\x1b[31mred":    `\x1b[31mred`,
		"nul\x00del\x7f": `nul\x00del\x7f`,
		"nel\u0085":      `nel\x85`,
		`back\slash`:     `back\\slash`,
		"日本":             "日本",
	} {
		if got := EscapeLogName(in); got != want {
			t.Errorf("EscapeLogName(%q) = %q, want %q", in, got, want)
		}
	}
}
