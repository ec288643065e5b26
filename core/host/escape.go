package host

import (
	"io"
	"strings"
	"unicode/utf8"
)

// EscapeText makes text from a plugin or a wrapped program safe to show in
// an error message or on a terminal: control characters other than line
// feed and tab (U+0000-U+001F, U+007F, U+0080-U+009F), the line and
// paragraph separators, and bytes that are not UTF-8 are shown as \xNN
// (\u00NN and \u2028 for the characters above U+007F). An escape sequence
// a program prints thus reaches the terminal as text, never as a command.
func EscapeText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7F {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var sb strings.Builder
	const hex = "0123456789abcdef"
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size <= 1:
			sb.WriteString(`\x`)
			sb.WriteByte(hex[s[0]>>4])
			sb.WriteByte(hex[s[0]&0xF])
		case r == '\n' || r == '\t':
			sb.WriteRune(r)
		case r < 0x20 || r == 0x7F:
			sb.WriteString(`\x`)
			sb.WriteByte(hex[r>>4])
			sb.WriteByte(hex[r&0xF])
		case r >= 0x80 && r <= 0x9F:
			sb.WriteString(`\u00`)
			sb.WriteByte(hex[r>>4])
			sb.WriteByte(hex[r&0xF])
		case r == 0x2028:
			sb.WriteString(`\u2028`)
		case r == 0x2029:
			sb.WriteString(`\u2029`)
		default:
			sb.WriteString(s[:size])
		}
		s = s[size:]
	}
	return sb.String()
}

// escapingWriter passes what is written through EscapeText. Writers of
// whole lines (hclog) never split a character across writes; a split one
// is shown as its bytes.
type escapingWriter struct{ w io.Writer }

func (e escapingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(e.w, EscapeText(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
