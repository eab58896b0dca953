package translate

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

func jwtConfigOf(t *testing.T, g *Group) *jwtv3.JwtAuthentication {
	t.Helper()
	for _, h := range hcmsOf(t, g) {
		for _, f := range h.GetHttpFilters() {
			if f.GetName() == wire.FilterJWT {
				cfg := &jwtv3.JwtAuthentication{}
				if err := f.GetTypedConfig().UnmarshalTo(cfg); err != nil {
					t.Fatal(err)
				}
				return cfg
			}
		}
	}
	t.Fatal("no jwt_authn filter")
	return nil
}

// While discovery has never succeeded for any issuer, the Gateway still
// protects every Route (attacker: a request during an identity provider
// outage at startup must not get in unauthenticated): each discovering
// provider has no key (every token refused), no JWKS cluster is made, and
// every Route still calls ext_authz, which refuses anonymous callers.
func TestDiscoveryNeverSucceededFailsClosed(t *testing.T) {
	for name, opts := range map[string]Options{
		"no discovery":         {},
		"discovery found none": {DiscoveredJWKS: func(*policy.JWTAuth) string { return "" }},
	} {
		t.Run(name, func(t *testing.T) {
			g := translateCase(t, "oidc", opts)[GroupKey{"web", ClientEnvoy}]
			if err := Check(g, nil); err != nil {
				t.Errorf("Check: %v", err)
			}
			for n, p := range jwtConfigOf(t, g).GetProviders() {
				if got := p.GetLocalJwks().GetInlineString(); got != noKeysJWKS || p.GetRemoteJwks() != nil {
					t.Errorf("provider %s: local %q remote %v, want no key at all", n, got, p.GetRemoteJwks())
				}
			}
			for _, c := range g.Clusters {
				if n := c.(*clusterv3.Cluster).GetName(); strings.HasPrefix(n, "jwks/") {
					t.Errorf("cluster %s made without a discovered jwks_uri", n)
				}
			}
			routes := 0
			eachRoute(g, func(_ string, r *routev3.Route) {
				routes++
				a := r.GetTypedPerFilterConfig()[wire.FilterExtAuthzClosed]
				pr := &extauthzv3.ExtAuthzPerRoute{}
				if a == nil || a.UnmarshalTo(pr) != nil || pr.GetDisabled() {
					t.Fatalf("route %s: ext_authz not enabled", r.GetName())
				}
				ext := pr.GetCheckSettings().GetContextExtensions()
				if ext[wire.CtxAllowAnonymous] != "false" {
					t.Errorf("route %s: %s = %q, want false", r.GetName(), wire.CtxAllowAnonymous, ext[wire.CtxAllowAnonymous])
				}
			})
			if routes == 0 {
				t.Fatal("no routes")
			}
		})
	}
}

// A discovered plain-http jwks_uri (the opt-in) gets a plaintext cluster;
// a changed jwks_uri changes the provider and the cluster.
func TestDiscoveredJWKSFollowsURI(t *testing.T) {
	for uri, cluster := range map[string]string{
		"https://login.example.com/oauth2/keys":  "jwks/login.example.com",
		"https://keys.example.net:8443/jwks":     "jwks/keys.example.net:8443",
		"http://127.0.0.1:4444/.well-known/jwks": "jwks/http/127.0.0.1:4444",
	} {
		g := translateCase(t, "oidc", Options{DiscoveredJWKS: func(j *policy.JWTAuth) string { return uri }})[GroupKey{"web", ClientEnvoy}]
		if err := Check(g, nil); err != nil {
			t.Errorf("%s: Check: %v", uri, err)
		}
		p := jwtConfigOf(t, g).GetProviders()["login"]
		if got := p.GetRemoteJwks().GetHttpUri(); got.GetUri() != uri || got.GetCluster() != cluster {
			t.Errorf("%s: http_uri %v, want cluster %s", uri, got, cluster)
		}
		if !p.GetRemoteJwks().GetAsyncFetch().GetFastListener() || p.GetRemoteJwks().GetRetryPolicy().GetNumRetries().GetValue() == 0 {
			t.Errorf("%s: remote_jwks %v: want async fetch with fast listener and retries", uri, p.GetRemoteJwks())
		}
		if clusterByName(g, cluster) == nil {
			t.Errorf("%s: no cluster %s", uri, cluster)
		}
	}
}
