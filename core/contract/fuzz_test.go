package contract

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/greetspec/greetspec/fixtures"
)

// seedNames adds every byte sequence of the fixtures to a fuzz corpus.
func seedNames(f *testing.F) {
	for _, n := range fixtures.Names() {
		f.Add(n.Bytes)
	}
	for _, n := range fixtures.ControlNames() {
		f.Add(n.Bytes)
	}
	for _, c := range fixtures.InvalidUTF8() {
		f.Add(c.Bytes)
	}
	for _, c := range fixtures.Cuts() {
		f.Add(c.Bytes)
	}
}

// validPrefixes is the set of proper prefixes (1 to 3 bytes) of the UTF-8
// encodings of every Unicode scalar value, built with the standard
// encoder: an oracle for "starts a well-formed sequence" that shares no
// code with DecodeUTF8.
var validPrefixes = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	var buf [utf8.UTFMax]byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		n := utf8.EncodeRune(buf[:], r)
		for k := 1; k < n; k++ {
			set[string(buf[:k])] = true
		}
	}
	return set
})

// oracleDecode decodes b with one U+FFFD per maximal subpart, where a
// maximal subpart is the longest prefix (at least one byte) of the rest
// that is a proper prefix of some well-formed sequence.
func oracleDecode(b []byte) (string, int) {
	var sb strings.Builder
	subparts := 0
	for len(b) > 0 {
		if r, size := utf8.DecodeRune(b); r != utf8.RuneError || size == 3 {
			sb.WriteString(string(b[:size]))
			b = b[size:]
			continue
		}
		k := 1
		for n := 3; n > 1; n-- {
			if n <= len(b) && validPrefixes()[string(b[:n])] {
				k = n
				break
			}
		}
		sb.WriteRune(utf8.RuneError)
		subparts++
		b = b[k:]
	}
	return sb.String(), subparts
}

func FuzzDecodeUTF8(f *testing.F) {
	seedNames(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		got := DecodeUTF8(b)
		if !utf8.ValidString(got) {
			t.Fatalf("DecodeUTF8(%x) = %q is not valid UTF-8", b, got)
		}
		if utf8.Valid(b) && got != string(b) {
			t.Fatalf("DecodeUTF8 changed valid UTF-8 %x into %q", b, got)
		}
		want, subparts := oracleDecode(b)
		if got != want {
			t.Fatalf("DecodeUTF8(%x) = %q, want %q", b, got, want)
		}
		literal := strings.Count(string(b), "\uFFFD")
		if n := strings.Count(got, "\uFFFD"); n != subparts+literal {
			t.Fatalf("DecodeUTF8(%x) has %d U+FFFD, want %d maximal subparts plus %d in the input", b, n, subparts, literal)
		}
	})
}

// unescapeLog reverses EscapeLogName for the escapes it writes.
func unescapeLog(s string) (string, bool) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			sb.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		i++
		switch s[i] {
		case '\\':
			sb.WriteByte('\\')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'x', 'u':
			n := 2
			if s[i] == 'u' {
				n = 4
			}
			if i+n >= len(s) {
				return "", false
			}
			v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			if err != nil {
				return "", false
			}
			sb.WriteRune(rune(v))
			i += n
		default:
			return "", false
		}
	}
	return sb.String(), true
}

func FuzzEscapeLogName(f *testing.F) {
	seedNames(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		name := DecodeUTF8(b) // what a server escapes is decoded text
		got := EscapeLogName(name)
		for _, r := range got {
			if r < 0x20 || (r >= 0x7F && r <= 0x9F) {
				t.Fatalf("EscapeLogName(%q) = %q keeps control character %U", name, got, r)
			}
		}
		if strings.ContainsAny(got, "\n\r") {
			t.Fatalf("EscapeLogName(%q) = %q is not one line", name, got)
		}
		back, ok := unescapeLog(got)
		if !ok || back != name {
			t.Fatalf("EscapeLogName(%q) = %q does not unescape to the name (got %q, ok %v)", name, got, back, ok)
		}
	})
}
