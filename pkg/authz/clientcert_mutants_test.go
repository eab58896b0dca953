package authz

import (
	"crypto/x509/pkix"
	"testing"
)

// A client certificate identifies its Consumer only on a route that names
// a certificate Authentication. Attack: on a route authenticated by API
// key, a caller without a key presents the certificate of a Consumer in
// the allowed group. Killed mutant (make mutate, gremlins, lived):
// identifyCertificate's `by == "" || raw == ""` turned into `&&`, which
// let the certificate identify the caller on any route
// (TestClientCertificateIdentity's route without Authentication never gets
// that far).
func TestCertificateIgnoredOnAnAPIKeyRoute(t *testing.T) {
	ca := newTestCA(t)
	cfg := testConfig()
	cfg.CertAuth = map[string]bool{"partner-certs": true}
	acme := cfg.Consumers["acme"]
	acme.Certificates = []string{"uri:spiffe://partners.example.com/acme"}
	cfg.Consumers["acme"] = acme
	s, logs := newTestService(t, cfg)
	r := req{ext: ext("r", "partner-keys", "partners-only")}.build(t)
	r.Attributes.Source.Certificate = ca.issue(t, pkix.Name{CommonName: "acme"}, []string{"spiffe://partners.example.com/acme"}, nil)
	if o := check(t, s, r); o.status != 401 {
		t.Errorf("API-key route, no key, acme's certificate: %v, want 401", o)
	}
	if d := logs.last(t); d.Consumer != "anonymous" || d.AuthenticatedBy != "" {
		t.Errorf("decision consumer %q by %q, want anonymous by nobody", d.Consumer, d.AuthenticatedBy)
	}
}
