// Command goclient is a greeting-protocol client written from
// specs/PROTOCOL.md alone.
//
// Usage:
//
//	goclient HOST PORT TIMEOUT_MS < name
//
// It reads the name from standard input to its end, exactly as given, sends
// it, half-closes, reads the reply until the server closes or 1024 bytes have
// arrived, and prints it decoded (one U+FFFD per maximal subpart of invalid
// UTF-8). Errors go to standard error with exit status 1; bytes received
// before a reset or a timeout are printed first.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const limit = 1024

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: goclient HOST PORT TIMEOUT_MS < name")
		os.Exit(2)
	}
	ms, err := strconv.Atoi(os.Args[3])
	if err != nil || ms <= 0 {
		fmt.Fprintln(os.Stderr, "goclient: TIMEOUT_MS must be a positive integer")
		os.Exit(2)
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	name, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err, nil)
	}
	if len(name) > limit {
		fail(fmt.Errorf("name too long: %d bytes, at most %d", len(name), limit), nil)
	}
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial("tcp", net.JoinHostPort(os.Args[1], os.Args[2]))
	if err != nil {
		fail(err, nil)
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if _, err := conn.Write(name); err != nil {
		fail(err, nil)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		fail(err, nil)
	}
	reply := make([]byte, limit)
	n, err := io.ReadFull(conn, reply)
	switch {
	case err == nil, errors.Is(err, io.ErrUnexpectedEOF):
	case errors.Is(err, io.EOF):
		fail(errors.New("server closed the connection without a reply"), nil)
	default:
		fail(err, reply[:n])
	}
	fmt.Println(decode(reply[:n]))
}

// fail reports err on standard error, after printing any reply bytes
// received before it, and exits with status 1.
func fail(err error, received []byte) {
	if len(received) > 0 {
		fmt.Println(decode(received))
	}
	fmt.Fprintln(os.Stderr, "goclient:", err)
	os.Exit(1)
}

// decode decodes UTF-8, replacing each maximal subpart of an ill-formed
// sequence with one U+FFFD (Unicode chapter 3). Go's own decoder replaces
// every invalid byte separately, so it cannot be used as it is.
func decode(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			sb.WriteByte(c)
			i++
			continue
		}
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c == 0xED:
			need, hi = 2, 0x9F
		case c >= 0xE1 && c <= 0xEF:
			need = 2
		case c == 0xF0:
			need, lo = 3, 0x90
		case c == 0xF4:
			need, hi = 3, 0x8F
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		}
		j := i + 1
		for k := 0; k < need && j < len(b); k++ {
			if b[j] < lo || b[j] > hi {
				break
			}
			j++
			lo, hi = 0x80, 0xBF
		}
		if need > 0 && j == i+1+need {
			sb.Write(b[i:j])
		} else {
			sb.WriteRune(utf8.RuneError)
		}
		i = j
	}
	return sb.String()
}
