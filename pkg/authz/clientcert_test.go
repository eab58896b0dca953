package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

// testCA issues client certificates for the tests.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{key: key, cert: c}
}

// issue returns a client certificate as Envoy sends it in
// source.certificate: URL-encoded PEM (+, / and = escaped too).
func (ca *testCA) issue(t *testing.T, subject pkix.Name, uris []string, dns []string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject, DNSNames: dns,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(p)
}

const certRego = `package envoy.authz

default allow := false

allow if {
	input.gatehouse.consumer == "acme"
	input.gatehouse.authenticated_by == "partner-certs"
	input.gatehouse.subject == "uri:spiffe://partners.example.com/acme"
}
`

// TestClientCertificateIdentity sends CheckRequests over real gRPC as
// Envoy does for a listener with client certificates: the verified
// certificate (source.certificate) names the Consumer by URI SAN, DNS SAN
// or subject, and the identity reaches Rego. Attacker cases: a spoofed
// x-forwarded-client-cert header or a garbled certificate identifies
// nobody.
func TestClientCertificateIdentity(t *testing.T) {
	ca := newTestCA(t)
	cfg := &Config{
		CertAuth: map[string]bool{"partner-certs": true},
		Consumers: map[string]Consumer{
			"acme":   {Certificates: []string{"uri:spiffe://partners.example.com/acme", "subject:CN=acme-batch,O=Acme"}, Groups: []string{"partners"}},
			"globex": {Certificates: []string{"dns:api.globex.example"}},
		},
		Policies: map[string]Policy{
			"partners-only": {Allow: &Allow{Groups: []string{"partners"}}},
			"cert-rego":     {Modules: map[string]string{"cert.rego": certRego}},
		},
	}
	s, logs := newTestService(t, cfg)
	client := authv3.NewAuthorizationClient(grpctest.Serve(t, s))
	send := func(t *testing.T, r req, cert string) outcome {
		t.Helper()
		cr := r.build(t)
		if cert != "" {
			if cr.Attributes.Source == nil {
				cr.Attributes.Source = &authv3.AttributeContext_Peer{}
			}
			cr.Attributes.Source.Certificate = cert
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := client.Check(ctx, cr)
		if err != nil {
			t.Fatalf("Check over gRPC: %v", err)
		}
		return summarize(t, resp)
	}
	acmeURI := ca.issue(t, pkix.Name{CommonName: "whatever"}, []string{"spiffe://partners.example.com/acme"}, nil)
	acmeSubject := ca.issue(t, pkix.Name{CommonName: "acme-batch", Organization: []string{"Acme"}}, nil, nil)
	globex := ca.issue(t, pkix.Name{CommonName: "globex"}, nil, []string{"API.globex.example"})
	stranger := ca.issue(t, pkix.Name{CommonName: "stranger"}, []string{"spiffe://partners.example.com/stranger"}, nil)
	spoofedXFCC := map[string]string{"x-forwarded-client-cert": `By=spiffe://gw;Hash=00;Subject="CN=acme-batch,O=Acme";URI=spiffe://partners.example.com/acme`}

	for _, tc := range []struct {
		name         string
		r            req
		cert         string
		wantStatus   int
		wantConsumer string
		wantBy       string
	}{
		{"URI SAN", req{ext: ext("r", "partner-certs", "partners-only")}, acmeURI, 200, "acme", "partner-certs"},
		{"subject", req{ext: ext("r", "partner-certs", "partners-only")}, acmeSubject, 200, "acme", "partner-certs"},
		{"DNS SAN, any case", req{ext: ext("r", "partner-certs", "")}, globex, 200, "globex", "partner-certs"},
		{"identity reaches Rego", req{ext: ext("r", "partner-certs", "cert-rego")}, acmeURI, 200, "acme", "partner-certs"},
		{"Rego refuses the subject identity", req{ext: ext("r", "partner-certs", "cert-rego")}, acmeSubject, 403, "acme", "partner-certs"},
		{"verified certificate of nobody", req{ext: ext("r", "partner-certs", "partners-only")}, stranger, 403, "anonymous", "partner-certs"},
		{"no certificate", req{ext: ext("r", "partner-certs", "")}, "", 401, "anonymous", ""},
		{"attacker: spoofed XFCC header, no certificate", req{headers: spoofedXFCC, ext: ext("r", "partner-certs", "partners-only")}, "", 401, "anonymous", ""},
		{"attacker: spoofed XFCC header with another's certificate", req{headers: spoofedXFCC, ext: ext("r", "partner-certs", "partners-only")}, stranger, 403, "anonymous", "partner-certs"},
		{"attacker: garbled certificate", req{ext: ext("r", "partner-certs", "")}, "-----BEGIN%20CERTIFICATE-----%0Anope", 401, "anonymous", ""},
		{"route without certificate authentication ignores it", req{ext: ext("r", "", "partners-only")}, acmeURI, 403, "anonymous", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := send(t, tc.r, tc.cert)
			if o.status != tc.wantStatus {
				t.Fatalf("got %v, want status %d", o, tc.wantStatus)
			}
			d := logs.last(t)
			if d.Consumer != tc.wantConsumer || d.AuthenticatedBy != tc.wantBy {
				t.Errorf("decision consumer %q by %q, want %q by %q", d.Consumer, d.AuthenticatedBy, tc.wantConsumer, tc.wantBy)
			}
		})
	}
}
