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
