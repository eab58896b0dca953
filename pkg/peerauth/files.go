package peerauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// stamp identifies one version of a file: a rename over it (how cert
// managers and Kubernetes secret volumes replace files) changes the file
// itself, an in-place write its size or modification time.
type stamp struct {
	fi os.FileInfo
}

func (s stamp) same(o stamp) bool {
	return s.fi != nil && o.fi != nil && os.SameFile(s.fi, o.fi) &&
		s.fi.ModTime().Equal(o.fi.ModTime()) && s.fi.Size() == o.fi.Size()
}

func statAll(paths ...string) ([]stamp, error) {
	out := make([]stamp, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		out[i] = stamp{fi}
	}
	return out, nil
}

func sameStamps(a, b []stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].same(b[i]) {
			return false
		}
	}
	return true
}

// paths are the files Config names.
func (c Config) paths() []string {
	if c.ClientCAFile == "" {
		return []string{c.CertFile, c.KeyFile}
	}
	return []string{c.CertFile, c.KeyFile, c.ClientCAFile}
}

// loaded is one consistent reading of the files.
type loaded struct {
	cert   *tls.Certificate
	ca     *x509.CertPool // nil without a client CA
	stamps []stamp
}

// load reads the key pair and the CA bundle. The stamps are taken first,
// so that a file replaced during the read is read again next time.
func (c Config) load() (*loaded, error) {
	stamps, err := statAll(c.paths()...)
	if err != nil {
		return nil, fmt.Errorf("gRPC port TLS files (--tls-cert, --tls-key, --client-ca): %w", err)
	}
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", c.CertFile, c.KeyFile, err)
	}
	if pair.Leaf != nil && time.Now().After(pair.Leaf.NotAfter) {
		return nil, fmt.Errorf("--tls-cert %s expired at %s: renew it", c.CertFile, pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	l := &loaded{cert: &pair, stamps: stamps}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		l.ca = x509.NewCertPool()
		if !l.ca.AppendCertsFromPEM(pem) {
			return nil, errors.New("--client-ca " + c.ClientCAFile + ": no PEM certificate in it")
		}
	}
	return l, nil
}
