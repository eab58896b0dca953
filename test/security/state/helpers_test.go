package security_state

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeFiles writes name -> content under dir ("" removes the file).
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if content == "" {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// selfSigned returns a PEM certificate and key for host.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// httpsPolicyDir is a policy directory with one Gateway "edge" that has two
// HTTPS listeners (two secrets) and one Route.
func httpsPolicyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	apiCert, apiKey := selfSigned(t, "api.example.com")
	wwwCert, wwwKey := selfSigned(t, "www.example.com")
	writeFiles(t, dir, map[string]string{
		"certs/api.pem": apiCert, "certs/api-key.pem": apiKey,
		"certs/www.pem": wwwCert, "certs/www-key.pem": wwwKey,
		"gateway.yaml": `kind: Gateway
name: edge
spec:
  listeners:
    - {name: api, port: 8443, protocol: HTTPS, hostnames: [api.example.com], tls: {certificate: certs/api.pem, key: certs/api-key.pem}}
    - {name: www, port: 8443, protocol: HTTPS, hostnames: [www.example.com], tls: {certificate: certs/www.pem, key: certs/www-key.pem}}
---
kind: Service
name: app
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: all
spec:
  gateways: [edge]
  backends: [{service: app}]
`,
	})
	return dir
}
