package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// mtlsFiles are a client CA, its revocation list, another CA's list, a
// leaf certificate and the server certificate and key.
func mtlsFiles(t *testing.T) map[string][]byte {
	t.Helper()
	mk := func(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	crl := func(ca *x509.Certificate, key *ecdsa.PrivateKey) []byte {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}, ca, key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	ca, caKey, caPEM := mk("client CA")
	other, otherKey, _ := mk("other CA")
	out := map[string][]byte{"certs/ca.pem": caPEM, "certs/ca.crl": crl(ca, caKey), "certs/other.crl": crl(other, otherKey)}
	for _, c := range []string{"api.pem", "api-key.pem"} {
		data, err := os.ReadFile("testdata/model/certs/" + c)
		if err != nil {
			t.Fatal(err)
		}
		out["certs/"+c] = data
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	out["certs/leaf.pem"] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return out
}

// mtlsGateway is a Gateway whose HTTPS listener has the given
// clientCertificates block (lines 11-), a clientCertificate
// Authentication, and a Route using it.
func mtlsGateway(cc string) string {
	return `kind: Gateway
name: gw
spec:
  listeners:
    - name: https
      port: 8443
      protocol: HTTPS
      tls:
        certificate: certs/api.pem
        key: certs/api-key.pem
` + cc + `---
kind: Service
name: s
spec:
  discovery:
    static: [{address: 127.0.0.1, port: 9000}]
---
kind: Authentication
name: certs
spec:
  clientCertificate: {}
---
kind: Route
name: r
spec:
  gateways: [gw]
  backends: [{service: s}]
  authentication: [certs]
`
}

func loadMTLS(t *testing.T, files map[string][]byte, extra map[string]string) *Snapshot {
	t.Helper()
	fsys := fstest.MapFS{}
	for n, d := range files {
		fsys[n] = &fstest.MapFile{Data: d}
	}
	for n, d := range extra {
		fsys[n] = &fstest.MapFile{Data: []byte(d)}
	}
	return Load(fsys, nil)
}

func TestClientCertificatesLoad(t *testing.T) {
	files := mtlsFiles(t)
	s := loadMTLS(t, files, map[string]string{"gw.yaml": mtlsGateway("        clientCertificates: {caFile: certs/ca.pem, crlFile: certs/ca.crl}\n"),
		"c.yaml": "kind: Consumer\nname: acme\nspec:\n  certificates:\n    - uriSAN: spiffe://example.org/acme\n    - subject: CN=acme,O=Acme\n    - dnsSAN: api.acme.example\n"})
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	cc := s.Gateways["gw"].Spec.Listeners[0].TLS.ClientCertificates
	if !cc.Required() || string(cc.CAPEM) != string(files["certs/ca.pem"]) || !strings.Contains(string(cc.CRLPEM), "X509 CRL") {
		t.Errorf("clientCertificates: required %v, CA %d bytes, CRL %q", cc.Required(), len(cc.CAPEM), cc.CRLPEM)
	}
	if got := s.Consumers["acme"].Spec.Certificates[2].Key(); got != "dns:api.acme.example" {
		t.Errorf("key %q", got)
	}
}

func TestClientCertificatesBadInputs(t *testing.T) {
	files := mtlsFiles(t)
	// A bundle whose second block is no certificate: the error counts it.
	files["certs/bad-bundle.pem"] = append(append([]byte{}, files["certs/ca.pem"]...), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})...)
	consumer := "kind: Consumer\nname: c\nspec:\n  certificates:\n"
	for _, tc := range []struct {
		name, file, yaml, want string
	}{
		{"bad mode", "gw.yaml", mtlsGateway("        clientCertificates: {mode: sometimes, caFile: certs/ca.pem}\n"),
			`gw.yaml:11: Gateway/gw: spec.listeners[0].tls.clientCertificates.mode: "sometimes" is not allowed`},
		{"no caFile", "gw.yaml", mtlsGateway("        clientCertificates: {mode: optional}\n"),
			"gw.yaml:11: Gateway/gw: spec.listeners[0].tls.clientCertificates.caFile: required"},
		{"caFile not a CA", "gw.yaml", mtlsGateway("        clientCertificates: {caFile: certs/leaf.pem}\n"),
			"spec.listeners[0].tls.clientCertificates.caFile: certs/leaf.pem: certificate 1"},
		{"caFile with a malformed second certificate", "gw.yaml", mtlsGateway("        clientCertificates: {caFile: certs/bad-bundle.pem}\n"),
			"spec.listeners[0].tls.clientCertificates.caFile: certs/bad-bundle.pem: certificate 2: x509: "},
		{"caFile is a key", "gw.yaml", mtlsGateway("        clientCertificates: {caFile: certs/api-key.pem}\n"),
			"spec.listeners[0].tls.clientCertificates.caFile: certs/api-key.pem: PEM block"},
		{"CRL of another CA", "gw.yaml", mtlsGateway("        clientCertificates: {caFile: certs/ca.pem, crlFile: certs/other.crl}\n"),
			"spec.listeners[0].tls.clientCertificates.crlFile: certs/other.crl is not signed by a CA of caFile"},
		{"CRL not a CRL", "gw.yaml", mtlsGateway("        clientCertificates: {caFile: certs/ca.pem, crlFile: certs/ca.pem}\n"),
			`spec.listeners[0].tls.clientCertificates.crlFile: certs/ca.pem: PEM block "CERTIFICATE"`},
		{"route certs on a Gateway asking none", "gw.yaml", mtlsGateway(""),
			"Route/r: spec.authentication: on Gateway/gw the Route accepts client certificates (certs), but no listener of the Gateway asks for them"},
		{"consumer certificate with two identities", "c.yaml", consumer + "    - {subject: CN=a, uriSAN: spiffe://x/a}\n",
			"c.yaml:5: Consumer/c: spec.certificates[0]: set exactly one of subject, uriSAN, dnsSAN"},
		{"consumer uriSAN not absolute", "c.yaml", consumer + "    - uriSAN: acme\n",
			`c.yaml:5: Consumer/c: spec.certificates[0].uriSAN: "acme" is not an absolute URI`},
		{"consumer subject not a DN", "c.yaml", consumer + "    - subject: acme\n",
			`spec.certificates[0].subject: "acme" is not a distinguished name`},
		{"consumer duplicate identity", "c.yaml", consumer + "    - dnsSAN: a.example\n    - dnsSAN: A.example\n",
			"c.yaml:6: Consumer/c: spec.certificates[1]: duplicate certificate identity"},
		{"two consumers, one identity", "c.yaml", consumer + "    - uriSAN: spiffe://x/a\n---\nkind: Consumer\nname: d\nspec:\n  certificates:\n    - uriSAN: spiffe://x/a\n",
			`the same certificate identity "uri:spiffe://x/a" is also in Consumer/`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := map[string]string{"gw.yaml": mtlsGateway("        clientCertificates: {caFile: certs/ca.pem}\n")}
			extra[tc.file] = tc.yaml
			s := loadMTLS(t, files, extra)
			found := false
			for _, e := range s.Errors() {
				if strings.Contains(e, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error containing %q; got:\n%s", tc.want, strings.Join(s.Errors(), "\n"))
			}
		})
	}
}
