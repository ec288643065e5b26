package contract

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// DecodeUTF8 decodes b as UTF-8 the way PROTOCOL.md requires of names and
// replies (SRV-UTF8-3, CLI-UTF8-1): each maximal subpart of an invalid
// sequence becomes one U+FFFD, as in Unicode's "substitution of maximal
// subparts", the WHATWG decoder and Python's decode("utf-8", "replace").
// Go's own decoder differs on truncated sequences (it replaces each byte).
func DecodeUTF8(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size > 1 {
			sb.WriteRune(r)
			b = b[size:]
			continue
		}
		sb.WriteRune(utf8.RuneError)
		b = b[maximalSubpart(b):]
	}
	return sb.String()
}

// maximalSubpart returns the length (at least 1) of the longest prefix of b
// that starts a well-formed sequence but is not one; b is known invalid.
func maximalSubpart(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF) // allowed range of the second byte
	var need int
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1 // not a lead byte at all
	}
	n := 1
	for i := 1; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}

// EscapedInLog reports whether SRV-LOG-2 has r escaped in the log line:
// the control characters U+0000-U+001F and U+007F-U+009F, and the line and
// paragraph separators U+2028 and U+2029 (PROTOCOL.md, decision 16). Every
// other character is logged as it is.
func EscapedInLog(r rune) bool {
	return r <= 0x1F || (r >= 0x7F && r <= 0x9F) || r == 0x2028 || r == 0x2029
}

// EscapeLogName escapes the characters of name that EscapedInLog names: a
// control character as \n, \r, \t or \xHH, U+2028 and U+2029 as \u2028 and
// \u2029, and a backslash as \\, so that a log line stays one line with no
// control characters or line breaks (SRV-LOG-2). Every other character is
// kept as it is.
func EscapeLogName(name string) string {
	var sb strings.Builder
	for _, r := range name {
		switch {
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&sb, `\u%04x`, r)
		case EscapedInLog(r):
			sb.WriteString(`\x`)
			sb.WriteByte("0123456789abcdef"[r>>4])
			sb.WriteByte("0123456789abcdef"[r&0xF])
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
