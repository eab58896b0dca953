package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/oidc"
)

// gatehouse status shows each discovered issuer: fine, failing with its
// last good jwks_uri, or never discovered (its tokens refused).
func TestStatusPrintsOIDCDiscovery(t *testing.T) {
	now := time.Now()
	st := serverStatus{OIDC: []oidc.IssuerStatus{
		{Issuer: "https://a.example.com/", JWKSURI: "https://a.example.com/keys", LastSuccess: now.Add(-time.Minute),
			AuthorizationEndpoint: "https://a.example.com/auth", TokenEndpoint: "https://a.example.com/token"},
		{Issuer: "https://b.example.com/", JWKSURI: "https://b.example.com/keys", LastSuccess: now.Add(-time.Hour), LastError: "HTTP 503", Failures: 4},
		{Issuer: "https://c.example.com/", LastError: "connection refused", Failures: 2},
	}}
	var b strings.Builder
	printStatus(&b, st, nil, now)
	for _, want := range []string{
		"OpenID Connect discovery (3 issuers):",
		"https://a.example.com/: jwks_uri https://a.example.com/keys (checked 1m0s ago)",
		"https://b.example.com/: jwks_uri https://b.example.com/keys (last good, 1h0m0s ago); FAILING (4 in a row): HTTP 503",
		"    browser login: authorization https://a.example.com/auth, token https://a.example.com/token, end session (none)",
		"https://c.example.com/: NEVER DISCOVERED (its tokens are refused, and its browser logins left out, until it is); 2 failures, last: connection refused",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, b.String())
		}
	}
}
