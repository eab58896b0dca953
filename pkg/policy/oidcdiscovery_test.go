package policy

import (
	"testing"
	"testing/fstest"
	"time"
)

// A JWT Authentication naming only its issuer uses discovery, with the
// defaults or its own intervals; one with jwks does not.
func TestJWTDiscoveryLoads(t *testing.T) {
	s := Load(fstest.MapFS{"a.yaml": {Data: []byte(jwtHead +
		"---\nkind: Authentication\nname: tuned\nspec:\n  jwt:\n    issuer: http://127.0.0.1:4444/\n    audiences: [api]\n" +
		"    discovery: {allowInsecureHTTP: true, refreshInterval: 30s, cacheDuration: 1m}\n" +
		"---\nkind: Authentication\nname: static\nspec:\n  jwt:\n    issuer: https://idp.example.com/\n    audiences: [api]\n" +
		"    jwks: {uri: https://idp.example.com/keys}\n")}}, nil)
	for _, r := range s.Rejected {
		t.Fatalf("rejected %s: %v", r.Ref, r.Errors)
	}
	n := s.Authentications["n"].Spec.JWT
	if !n.UseDiscovery || n.Discovery.Refresh() != DefaultDiscoveryRefresh || n.Discovery.Cache() != DefaultJWKSCacheDuration {
		t.Errorf("n: UseDiscovery %v, refresh %v, cache %v", n.UseDiscovery, n.Discovery.Refresh(), n.Discovery.Cache())
	}
	tuned := s.Authentications["tuned"].Spec.JWT
	if !tuned.UseDiscovery || !tuned.Discovery.AllowInsecureHTTP || tuned.Discovery.Refresh() != 30*time.Second || tuned.Discovery.Cache() != time.Minute {
		t.Errorf("tuned: %+v", tuned.Discovery)
	}
	if s.Authentications["static"].Spec.JWT.UseDiscovery {
		t.Error("static: a jwks uri must not use discovery")
	}
}

// Without jwks the issuer is where the discovery document (which names the
// signing keys) is read: each way it could be fetched unsafely or not at
// all is refused with its field.
func TestBadOIDCDiscoveryIssuer(t *testing.T) {
	head := "kind: Authentication\nname: d\nspec:\n  jwt:\n    audiences: [api]\n    issuer: " // issuer on line 6
	p := "spec.jwt.issuer"
	runBadCases(t, []badCase{
		{"discovery over plain http", head + "http://idp.example.com/\n",
			6, "Authentication/d", p, `"http://idp.example.com/" uses plain http: the discovery document (which names the signing keys) fetched without TLS can be replaced`},
		{"discovery of another scheme", head + "ftp://idp.example.com/\n",
			6, "Authentication/d", p, `"ftp://idp.example.com/" must be an https URL when jwks is omitted`},
		{"discovery of another scheme with http allowed", head + "ftp://idp.example.com/\n    discovery: {allowInsecureHTTP: true}\n",
			6, "Authentication/d", p, `"ftp://idp.example.com/" must be an https URL when jwks is omitted`},
		{"discovery not a url", head + "\"https://idp.example.com/%zz\"\n",
			6, "Authentication/d", p, `is not a valid URL; without jwks the issuer is where the OpenID Connect discovery document is read`},
		{"discovery without host", head + "https:///realms/a\n",
			6, "Authentication/d", p, `"https:///realms/a" has no valid host`},
		{"discovery port without host", head + "\"https://:443/\"\n",
			6, "Authentication/d", p, `"https://:443/" has no valid host`},
		{"discovery bad host", head + "https://idp_example!/\n",
			6, "Authentication/d", p, `"https://idp_example!/" has no valid host`},
		{"discovery credentials", head + "https://u:p@idp.example.com/\n",
			6, "Authentication/d", p, "must not carry credentials"},
		{"discovery query", head + "https://idp.example.com/?tenant=a\n",
			6, "Authentication/d", p, "must not have a query or #fragment"},
		{"discovery fragment", head + "https://idp.example.com/#a\n",
			6, "Authentication/d", p, "must not have a query or #fragment"},
	})
}
