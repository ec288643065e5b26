package logline

import "testing"

func TestEvent(t *testing.T) {
	p, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ line, addr, name string }{
		{"connected with: 127.0.0.1:5000 bob", "127.0.0.1:5000", "bob"},
		{"connected with: 127.0.0.1:5000 bob\r\n", "127.0.0.1:5000", "bob"},
		{"connected with: ('127.0.0.1', 5000) a b", "127.0.0.1:5000", "a b"},
		{"connected with: [::1]:5000 ", "[::1]:5000", ""},
		{"connected with: 127.0.0.1:5000", "127.0.0.1:5000", ""},
	} {
		ev := p.Event([]byte(c.line))
		if ev == nil || ev.RemoteAddress != c.addr || ev.Name != c.name {
			t.Errorf("Event(%q) = %v, want addr %q name %q", c.line, ev, c.addr, c.name)
		}
	}
	if ev := p.Event([]byte("listening on 127.0.0.1:5000")); ev != nil {
		t.Errorf("a non-connection line gave %v", ev)
	}
	if _, err := New("(?P<addr>x)"); err == nil {
		t.Error("a pattern without a name group was accepted")
	}
}
