package wire

import (
	"bytes"
	"strings"
	"testing"

	"github.com/greetspec/greetspec/fixtures"
)

// FuzzRead sends data from a peer in pieces (split at the given points),
// ends the stream, and reads with a byte limit: the read must return
// exactly the first max bytes (all of them without a limit), say why it
// stopped, leave the rest unread, and record one transcript line per event
// with the data shown escaped.
func FuzzRead(f *testing.F) {
	for _, n := range fixtures.Names() {
		f.Add(n.Bytes, uint16(0), uint8(1))
	}
	for _, c := range fixtures.InvalidUTF8() {
		f.Add(c.Bytes, uint16(1), uint8(2))
	}
	for _, l := range fixtures.Lengths() {
		f.Add(l.Bytes, uint16(fixtures.MaxNameBytes), uint8(3))
	}
	f.Add([]byte("welcome to Asif server\x1b[2J\n\r"), uint16(5), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, max uint16, pieces uint8) {
		if len(data) > 64<<10 {
			return
		}
		client, server := pair(t)
		var parts [][]byte
		n := int(pieces%8) + 1
		for i := 0; i < n; i++ {
			parts = append(parts, data[i*len(data)/n:(i+1)*len(data)/n])
		}
		if err := server.SendPieces(parts, 0, wait); err != nil {
			t.Fatal(err)
		}
		if err := server.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		r := client.ReadUntilEnd(int(max), wait)
		want, wantEnd := data, EndEOF
		if max > 0 && len(data) >= int(max) {
			want, wantEnd = data[:max], EndNone
		}
		if !bytes.Equal(r.Data, want) || r.End != wantEnd {
			t.Fatalf("read with max %d of %d bytes in %d pieces: got %v, want %d bytes and end %s\n%s", max, len(data), n, r, len(want), wantEnd, client.Transcript())
		}
		if !bytes.Equal(client.Transcript().Received(), r.Data) {
			t.Fatalf("transcript received %q, read %q", client.Transcript().Received(), r.Data)
		}
		if wantEnd == EndNone {
			rest := client.ReadUntilEnd(0, wait)
			if !bytes.Equal(rest.Data, data[max:]) || rest.End != EndEOF {
				t.Fatalf("the bytes past max were not left for the next read: got %v, want %d bytes", rest, len(data)-int(max))
			}
		}
		s := client.Transcript().String()
		if got, want := strings.Count(s, "\n"), len(client.Transcript().Records()); got != want {
			t.Fatalf("transcript has %d lines for %d records:\n%s", got, want, s)
		}
		for _, c := range s {
			if c < 0x20 && c != '\n' {
				t.Fatalf("transcript holds a raw control character %U:\n%q", c, s)
			}
		}
	})
}
