package faulty

import "unicode/utf8"

func validUTF8(b []byte) bool { return utf8.Valid(b) }

// missingBytes returns how many bytes the last, incomplete character of b
// still needs, or 0 if b does not end inside a character.
func missingBytes(b []byte) int {
	for back := 1; back <= 3 && back <= len(b); back++ {
		c := b[len(b)-back]
		if c&0xC0 == 0x80 {
			continue // continuation byte: look further back
		}
		var size int
		switch {
		case c&0xE0 == 0xC0:
			size = 2
		case c&0xF0 == 0xE0:
			size = 3
		case c&0xF8 == 0xF0:
			size = 4
		default:
			return 0
		}
		if size > back {
			return size - back
		}
		return 0
	}
	return 0
}
