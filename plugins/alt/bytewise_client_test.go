package alt

import (
	"testing"

	"github.com/greetspec/greetspec/core/contract"
)

// FuzzStreamDecoder checks the bytewise client's incremental decoder against
// the contract's decoder: both implement substitution of maximal subparts.
func FuzzStreamDecoder(f *testing.F) {
	for _, seed := range []string{"", "Asif", "aé€😀", "\x80", "\xe2\x82", "\xc0\xaf", "\xe0\x80\xaf",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "A\xe2\x82B", "\xe2\x82\xe2\x82\xac", "\xf0\x9f\x98"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d streamDecoder
		for _, c := range b {
			d.feed(c)
		}
		if got, want := d.finish(), contract.DecodeUTF8(b); got != want {
			t.Fatalf("decoding % x: got %q, want %q", b, got, want)
		}
	})
}
