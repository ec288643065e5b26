package specs

import "testing"

// byteDiff names the difference itself, so a failure line says what the
// implementation added, dropped or changed.
func TestByteDiff(t *testing.T) {
	for _, c := range []struct {
		want, got, says string
	}{
		{"Asif", "Asif\n", "1 byte more after the name (0a)"},
		{"Asif", "\xef\xbb\xbfAsif", "3 bytes more before the name (ef bb bf)"},
		{"Asif", "As", "only the first 2 bytes of the name's 4"},
		{"Asif", "Asef", "4 bytes that differ from byte 2 on (65 66 where the name has 69 66)"},
		{"Asif", "", "nothing"},
		{"Asif", "Asif", "the same bytes"},
		{"", "\xef\xbb\xbf", "3 bytes (ef bb bf) where the name is empty"},
	} {
		if got := byteDiff([]byte(c.want), []byte(c.got)); got != c.says {
			t.Errorf("byteDiff(%q, %q) = %q, want %q", c.want, c.got, got, c.says)
		}
	}
}
