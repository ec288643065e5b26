package execadapter

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greetspec/greetspec/core/contract"
)

// cClient is an ordinary C client: name from standard input, timeout by
// SO_RCVTIMEO, errors by perror.
const cClient = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

int main(int argc, char **argv) {
	char name[2048], buf[1025];
	size_t n = fread(name, 1, sizeof name, stdin), got = 0;
	ssize_t r = 0;
	int ms = atoi(argv[3]);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("connect");
		return 1;
	}
	if (write(s, name, n) < 0) {
		perror("write");
		return 1;
	}
	shutdown(s, SHUT_WR);
	while (got < 1024 && (r = recv(s, buf + got, 1024 - got, 0)) > 0)
		got += r;
	if (r < 0) {
		perror("recv");
		return 1;
	}
	fwrite(buf, 1, got, stdout);
	putchar('\n');
	return 0;
}
`

// goClient is an ordinary Go client: name from standard input, timeout by
// a deadline, errors by log.Fatal.
const goClient = `package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	ms, _ := strconv.Atoi(os.Args[2])
	d := time.Duration(ms) * time.Millisecond
	name, err := io.ReadAll(os.Stdin)
	if err != nil {
		log.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", os.Args[1], d)
	if err != nil {
		log.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write(name); err != nil {
		log.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(io.LimitReader(c, 1024))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
}
`

// buildClient compiles a client program like build does for servers.
func buildClient(t *testing.T, lang, src string) string {
	t.Helper()
	bin := build(t, lang, src)
	dst := filepath.Join(filepath.Dir(bin), "client")
	if err := os.Rename(bin, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// closedPort returns an address on which nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRealClientPrograms runs ordinary clients in C, Go and shell against
// each failure and checks the class their own words earn.
func TestRealClientPrograms(t *testing.T) {
	t.Parallel()
	py := python(t)
	templates := map[string]func(t *testing.T) string{
		"c":      func(t *testing.T) string { return buildClient(t, "c", cClient) + " {host} {port} {timeout_ms}" },
		"go":     func(t *testing.T) string { return buildClient(t, "go", goClient) + " {addr} {timeout_ms}" },
		"python": func(t *testing.T) string { return py + " " + testdata(t, "client.py") + " --silent {host} {port}" },
	}
	if _, err := exec.LookPath("nc"); err == nil {
		templates["shell nc"] = func(t *testing.T) string { return "nc -N {host} {port}" }
	}
	cases := []struct {
		failure string
		server  func(t *testing.T) string
		class   contract.ErrorClass
	}{
		{"greet", func(t *testing.T) string { return startGreetingServer(t, "greet").addr() }, contract.ErrorClass_ERROR_CLASS_NONE},
		{"refused", closedPort, contract.ErrorClass_ERROR_CLASS_REFUSED},
		{"reset", func(t *testing.T) string { return startGreetingServer(t, "reset").addr() }, contract.ErrorClass_ERROR_CLASS_RESET},
		{"closed early", func(t *testing.T) string { return startGreetingServer(t, "close").addr() }, contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY},
		{"timeout", func(t *testing.T) string { return startGreetingServer(t, "hang").addr() }, contract.ErrorClass_ERROR_CLASS_TIMEOUT},
	}
	for lang, mk := range templates {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			tmpl := mk(t)
			for _, tc := range cases {
				if tc.failure == "timeout" && !strings.Contains(tmpl, "{timeout_ms}") {
					continue // told no timeout: it would be killed, which other tests cover
				}
				t.Run(tc.failure, func(t *testing.T) {
					t.Parallel()
					c, err := newClient(ClientConfig{Command: tmpl})
					if err != nil {
						t.Fatal(err)
					}
					resp, err := c.Greet(t.Context(), &contract.GreetRequest{Address: tc.server(t), Name: "Bob", TimeoutMs: 1000})
					if err != nil {
						t.Fatal(err)
					}
					if resp.GetErrorClass() != tc.class {
						t.Errorf("class %v, want %v: %s", resp.GetErrorClass(), tc.class, resp.GetError())
					}
					if tc.class == contract.ErrorClass_ERROR_CLASS_NONE && resp.GetShown() != contract.Greeting {
						t.Errorf("reply %q", resp.GetShown())
					}
					if strings.Contains(resp.GetError(), "killed") {
						t.Errorf("the program had to be killed: %s", resp.GetError())
					}
				})
			}
		})
	}
}
