package host

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hashicorp/go-plugin"
)

// A built-in plugin is spoken to without TLS: a certificate its handshake
// line offers anyway is cut off before go-plugin reads the line, and the
// rest of its output passes unchanged, however it is split into reads.
func TestPlainHandshakeDropsTheCertificate(t *testing.T) {
	cases := []struct{ in, want string }{
		{"1|1|unix|/d/plugin1|grpc|" + strings.Repeat("A", 80) + "\nlater output\n", "1|1|unix|/d/plugin1|grpc\nlater output\n"},
		{"1|1|unix|/d/plugin1|grpc|" + strings.Repeat("A", 80) + "|true\n", "1|1|unix|/d/plugin1|grpc\n"},
		{"1|1|unix|/d/plugin1|grpc\nmore\n", "1|1|unix|/d/plugin1|grpc\nmore\n"},
		{"not a handshake", "not a handshake"},
		{"", ""},
	}
	for _, c := range cases {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(c.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := io.ReadAll(newPlainHandshake(io.NopCloser(r)))
			if err != nil || string(got) != c.want {
				t.Errorf("%q (one byte at a time: %v): got %q, %v; want %q", c.in, oneByte, got, err, c.want)
			}
		}
	}
}

// Without TLS, the plugin must serve on a unix socket in the directory
// go-plugin made for the launch, closed to other users.
func TestPrivateSocket(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := &net.UnixAddr{Net: "unix", Name: filepath.Join(dir, "plugin1")}
	if err := privateSocket(&plugin.ReattachConfig{Addr: sock}, dir); err != nil {
		t.Errorf("a socket in a private directory: %v", err)
	}
	for name, rc := range map[string]*plugin.ReattachConfig{
		"tcp":        {Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}},
		"elsewhere":  {Addr: &net.UnixAddr{Net: "unix", Name: filepath.Join(t.TempDir(), "plugin1")}},
		"no address": {},
		"no config":  nil,
	} {
		if err := privateSocket(rc, dir); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := privateSocket(&plugin.ReattachConfig{Addr: sock}, dir); err == nil || !strings.Contains(err.Error(), "open to other users") {
		t.Errorf("a socket directory others can open: %v", err)
	}
}
