package hostile

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// StallTLSHandshake plays a plugin that announces itself correctly (a
// go-plugin handshake line with a server certificate) and then never
// answers on the announced address: connections are accepted and left
// silent, so the host's TLS handshake stalls. It never returns; the host's
// start timeout must bound it.
func StallTLSHandshake() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(ExitCode)
	}
	cert, err := selfSignedDER()
	if err != nil {
		os.Exit(ExitCode)
	}
	fmt.Printf("1|%d|tcp|%s|grpc|%s\n", contract.Handshake.ProtocolVersion, ln.Addr(), base64.RawStdEncoding.EncodeToString(cert))
	var held []net.Conn
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(ExitCode)
		}
		held = append(held, c) // never read, never written, never closed
	}
}

func selfSignedDER() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

// ANSIText is what AnsiOutput prints and returns: a screen clear, a window
// title change and red text, all of which a terminal would obey.
const ANSIText = "\x1b[2J\x1b]0;owned\x07\x1b[31mhostile plugin output\x1b[0m"

// ANSIClient is a client that prints terminal escape sequences on its
// standard error and puts them into what it returns, after connecting,
// sending the name and half-closing as a client should.
type ANSIClient struct {
	// Mode says where the sequences go: "reply" (a successful greeting
	// with the right reply bytes whose shown text is ANSIText), "class" (a failure of class OTHER whose
	// message is ANSIText) or anything else (the call itself fails with
	// an error carrying ANSIText).
	Mode string
}

// Greet connects, sends the name, prints ANSIText and returns it as Mode
// says.
func (a ANSIClient) Greet(ctx context.Context, req *contract.GreetRequest) (*contract.GreetResponse, error) {
	var d net.Dialer
	if c, err := d.DialContext(ctx, "tcp", req.GetAddress()); err == nil {
		_, _ = c.Write([]byte(req.GetName()))
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = c.Read(make([]byte, 64))
		_ = c.Close()
	}
	fmt.Fprintln(os.Stderr, ANSIText)
	switch a.Mode {
	case "reply":
		return &contract.GreetResponse{Reply: []byte(contract.Greeting), Shown: ANSIText}, nil
	case "class":
		return &contract.GreetResponse{ErrorClass: contract.ErrorClass_ERROR_CLASS_OTHER, Error: ANSIText}, nil
	}
	return nil, fmt.Errorf("client failed: %s", ANSIText)
}
