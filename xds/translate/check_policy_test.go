package translate

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

func withoutCluster(g *Group, name string) *Group {
	out := make([]types.Resource, 0, len(g.Clusters))
	for _, r := range g.Clusters {
		if r.(named).GetName() != name {
			out = append(out, r)
		}
	}
	g.Clusters = out
	return g
}

func TestCheckPolicyFilters(t *testing.T) {
	auth := translateCase(t, "auth", Options{})[GroupKey{"edge", ClientEnvoy}]
	rl := translateCase(t, "ratelimit", Options{})[GroupKey{"edge", ClientEnvoy}]
	if err := Check(cloneGroup(auth), clasOf(auth)); err != nil {
		t.Fatalf("auth: %v", err)
	}
	if err := Check(cloneGroup(rl), clasOf(rl)); err != nil {
		t.Fatalf("ratelimit: %v", err)
	}
	cases := []struct {
		name string
		g    func() *Group
		want string
	}{
		{"ext_authz names a missing cluster", func() *Group { return withoutCluster(cloneGroup(auth), wire.AuthzCluster) }, `cluster "gatehouse/authz" does not exist`},
		{"ratelimit names a missing cluster", func() *Group { return withoutCluster(cloneGroup(rl), wire.RateLimitCluster) }, `cluster "gatehouse/ratelimit" does not exist`},
		{"remote JWKS names a missing cluster", func() *Group { return withoutCluster(cloneGroup(auth), "jwks/idp.example.com") }, `cluster "jwks/idp.example.com" does not exist`},
		{"per-route config for a filter the HCM lacks", func() *Group {
			g := cloneGroup(rl) // no rbac filter in this case
			firstRoute(g).TypedPerFilterConfig[wire.FilterRBAC] = anyRBACOff
			return g
		}, "names no HTTP filter of its connection manager"},
		{"per-route config of another filter's type", func() *Group {
			g := cloneGroup(auth)
			firstRoute(g).TypedPerFilterConfig[wire.FilterExtAuthzClosed] = anyJWTDisabled
			return g
		}, "is not a per-route config of envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"},
		{"jwt requirement not in the requirement_map", func() *Group {
			g := cloneGroup(auth)
			firstRoute(g).TypedPerFilterConfig[wire.FilterJWT] = mustAny(&jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: "nobody"}})
			return g
		}, `requirement "nobody" is not in the filter's requirement_map`},
		{"filter config type as a per-route config", func() *Group {
			g := cloneGroup(auth)
			firstRoute(g).TypedPerFilterConfig[wire.FilterExtAuthzClosed] = mustAny(&extauthzv3.ExtAuthz{})
			return g
		}, "is not allowed at per-route filter config"},
		{"per-route type as a filter config", func() *Group {
			g := cloneGroup(auth)
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters[1].ConfigType = httpFilter("x", anyExtAuthzDisabled).ConfigType
			})
			return g
		}, "is not allowed at HTTP filter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g()
			err := Check(g, clasOf(g))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDanglingPolicyNamesAreErrors(t *testing.T) {
	for _, tc := range []struct {
		edit func(r *policy.Route)
		want string
	}{
		{func(r *policy.Route) { r.Spec.Authorization = "gone" }, "Authorization/gone does not exist"},
		{func(r *policy.Route) { r.Spec.RateLimit = "gone" }, "RateLimit/gone does not exist"},
		{func(r *policy.Route) { r.Spec.Authentication = &[]string{"gone"} }, "Authentication/gone does not exist"},
	} {
		p := bigSnapshot(t, 2, 2, 1)
		for _, n := range sortedKeys(p.Routes) {
			tc.edit(p.Routes[n])
			break
		}
		_, err := Translate(p, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Translate: %v; want an error containing %q", err, tc.want)
		}
	}
}

// TestPolicyCasesDeterministic: map iteration must not leak into the
// policy filters (providers, requirements, per-route caches).
func TestPolicyCasesDeterministic(t *testing.T) {
	for _, c := range policyCases {
		want := serialize(t, translateCase(t, c, Options{}))
		for i := 0; i < 3; i++ {
			if got := serialize(t, translateCase(t, c, Options{})); string(got) != string(want) {
				t.Fatalf("%s: run %d differs", c, i)
			}
		}
	}
}
