package controller

import (
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// clientCertificate Authentications and Consumers' certificate identities
// reach the authz service, in the form it looks them up.
func TestAuthzRulesClientCertificates(t *testing.T) {
	snap := &policy.Snapshot{
		Authentications: map[string]*policy.Authentication{
			"certs": {Spec: policy.AuthenticationSpec{ClientCertificate: &policy.ClientCertAuth{}}},
			"keys":  {Spec: policy.AuthenticationSpec{APIKey: &policy.APIKeyAuth{Header: "x-api-key"}}},
		},
		Consumers: map[string]*policy.Consumer{
			"acme": {Spec: policy.ConsumerSpec{Certificates: []policy.ConsumerCertificate{
				{URISAN: "spiffe://example.org/acme"}, {DNSSAN: "API.acme.example"}, {Subject: "CN=acme,O=Acme"},
			}}},
		},
	}
	cfg, err := AuthzRules(snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CertAuth) != 1 || !cfg.CertAuth["certs"] {
		t.Errorf("CertAuth %v, want certs alone", cfg.CertAuth)
	}
	want := []string{"uri:spiffe://example.org/acme", "dns:api.acme.example", "subject:CN=acme,O=Acme"}
	if got := cfg.Consumers["acme"].Certificates; !slices.Equal(got, want) {
		t.Errorf("certificates %v, want %v", got, want)
	}
}
