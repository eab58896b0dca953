package introspect

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testCA is a CA made in the test, and its PEM certificate.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// serverCert is a certificate for 127.0.0.1 signed by ca.
func (ca testCA) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// introspectionServer is an HTTPS RFC 7662 endpoint whose certificate ca
// signed; every token is active.
func introspectionServer(t *testing.T, ca testCA) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"active":true,"sub":"alice","scope":"a"}`))
	}))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.serverCert(t)}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// TestCustomCA: with CAPEM the endpoint's certificate must chain to that
// CA: a server of the CA is introspected, one signed by another CA (an
// attacker's, or a public one: the system roots are not consulted) is
// refused as unavailable, never trusted.
func TestCustomCA(t *testing.T) {
	ours, theirs := newTestCA(t, "ours"), newTestCA(t, "theirs")
	good := introspectionServer(t, ours)
	bad := introspectionServer(t, theirs)
	cfg := func(endpoint string) Config {
		return Config{Endpoint: endpoint, ClientID: "gw", ClientSecret: "s", CAPEM: ours.pem, Timeout: 5 * time.Second}
	}
	in, err := New(cfg(good.URL))
	if err != nil {
		t.Fatal(err)
	}
	r, err := in.Introspect(context.Background(), "tok")
	if err != nil || !r.Active || r.Token.Subject != "alice" {
		t.Fatalf("server signed by the configured CA: %+v, %v", r, err)
	}
	in, err = New(cfg(bad.URL))
	if err != nil {
		t.Fatal(err)
	}
	r, err = in.Introspect(context.Background(), "tok")
	if !errors.Is(err, ErrUnavailable) || r.Active {
		t.Fatalf("server signed by another CA: %+v, %v; want ErrUnavailable", r, err)
	}
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("refused for another reason: %v", err)
	}
	// Without CAPEM the system roots apply: the test CA is not among them.
	c := cfg(good.URL)
	c.CAPEM = ""
	in, _ = New(c)
	if _, err := in.Introspect(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("test CA trusted without CAPEM: %v", err)
	}
	c.CAPEM = "not a certificate"
	if _, err := New(c); err == nil {
		t.Error("CAPEM without a certificate accepted")
	}
}
