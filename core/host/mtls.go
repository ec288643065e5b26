package host

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
)

// clientCertEnv is go-plugin's automatic-mTLS variable: the PEM certificate
// the host will present, which the plugin trusts, answering with its own
// certificate in its handshake line.
const clientCertEnv = "PLUGIN_CLIENT_CERT"

// hostCert is the certificate this process presents to every plugin it
// launches, made once (see hostCertificate).
var hostCert struct {
	once sync.Once
	cert tls.Certificate
	pem  []byte
	err  error
}

// hostCertificate returns the certificate the host presents to its plugins
// and its PEM encoding for clientCertEnv. It speaks go-plugin's automatic
// mTLS protocol unchanged (a self-signed certificate for "localhost", sent
// to the plugin in clientCertEnv; the plugin's own comes back in its
// handshake line and becomes the only root the host trusts), with two
// differences from go-plugin's own host side: the key is P-256 rather than
// P-521, and one certificate serves every launch of this process, since
// its private key never leaves it. Key generation was a third of the CPU a
// lane spent launching its two plugins (BENCHMARKS.md).
func hostCertificate() (tls.Certificate, []byte, error) {
	hostCert.once.Do(func() {
		hostCert.cert, hostCert.pem, hostCert.err = newHostCertificate()
	})
	return hostCert.cert, hostCert.pem, hostCert.err
}

func newHostCertificate() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	const host = "localhost"
	template := &x509.Certificate{
		Subject:               pkix.Name{CommonName: host, Organization: []string{"greetspec"}},
		DNSNames:              []string{host},
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SerialNumber:          sn,
		NotBefore:             time.Now().Add(-30 * time.Second),
		NotAfter:              time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	var out bytes.Buffer
	if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, out.Bytes(), nil
}

// clientTLS returns the TLS configuration of one launch: the host's
// certificate; go-plugin adds the plugin's certificate from its handshake
// line as the only root (its loadServerCert).
func clientTLS() (*tls.Config, []byte, error) {
	cert, certPEM, err := hostCertificate()
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, ServerName: "localhost"}, certPEM, nil
}

// privateSocket checks what a plugin spoken to without TLS must be served
// on: a unix socket in dir, the directory go-plugin created for the launch,
// which no other user may open.
func privateSocket(rc *plugin.ReattachConfig, dir string) error {
	if rc == nil || rc.Addr == nil {
		return fmt.Errorf("the plugin's address is unknown")
	}
	if rc.Addr.Network() != "unix" || dir == "" || filepath.Dir(rc.Addr.String()) != filepath.Clean(dir) {
		return fmt.Errorf("a built-in plugin must serve on a unix socket in %q, not on %s %s (it is spoken to without TLS)", dir, rc.Addr.Network(), rc.Addr)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("the plugin's socket directory %s is open to other users (mode %v): a built-in plugin is spoken to without TLS", dir, fi.Mode().Perm())
	}
	return nil
}
