// Command goserver is a greeting-protocol server written from
// specs/PROTOCOL.md alone, with one goroutine per connection.
//
// Usage:
//
//	goserver HOST PORT IDLE_TIMEOUT_MS
//
// It logs one line per greeted connection on standard output:
// "connected with: HOST:PORT NAME".
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	greeting = "welcome to Asif server"
	limit    = 1024
)

var logMu sync.Mutex

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: goserver HOST PORT IDLE_TIMEOUT_MS")
		os.Exit(2)
	}
	ms, err := strconv.Atoi(os.Args[3])
	if err != nil || ms <= 0 {
		fmt.Fprintln(os.Stderr, "goserver: IDLE_TIMEOUT_MS must be a positive integer")
		os.Exit(2)
	}
	idle := time.Duration(ms) * time.Millisecond
	ln, err := net.Listen("tcp", net.JoinHostPort(os.Args[1], os.Args[2]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "goserver:", err)
		os.Exit(1)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			fmt.Fprintln(os.Stderr, "goserver:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serve(conn.(*net.TCPConn), idle)
	}
}

// serve runs one exchange: name, log line, greeting, half-close, drain.
func serve(conn *net.TCPConn, idle time.Duration) {
	defer conn.Close()
	buf := make([]byte, limit)
	n := 0
	for n < limit {
		conn.SetReadDeadline(time.Now().Add(idle))
		k, err := conn.Read(buf[n:])
		n += k
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if n == 0 {
				return // no byte for T: closed without a greeting
			}
			break
		}
		if !errors.Is(err, io.EOF) {
			return // reset before the name ended: nothing to log
		}
		break
	}
	logMu.Lock()
	fmt.Printf("connected with: %s %s\n", conn.RemoteAddr(), escape(decode(buf[:n])))
	logMu.Unlock()
	if _, err := conn.Write([]byte(greeting)); err != nil {
		return
	}
	if err := conn.CloseWrite(); err != nil {
		return
	}
	conn.SetReadDeadline(time.Now().Add(idle))
	drain := make([]byte, 32*1024)
	for {
		if _, err := conn.Read(drain); err != nil {
			return
		}
	}
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

// escape writes control characters and U+2028/U+2029 as \xNN or \uNNNN.
func escape(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r >= 0x7F && r <= 0x9F:
			fmt.Fprintf(&sb, `\x%02x`, r)
		case r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
