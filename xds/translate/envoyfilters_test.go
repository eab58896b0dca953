package translate

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// policyCases are the golden cases with authentication, authorization and
// rate limits.
var policyCases = []string{"auth", "ratelimit"}

func translateCase(t *testing.T, name string, opts Options) map[GroupKey]*Group {
	t.Helper()
	snap, _ := loadCase(t, filepath.Join("testdata", "in", name))
	groups, err := Translate(snap, opts)
	if err != nil {
		t.Fatalf("%s: Translate: %v", name, err)
	}
	return groups
}

func hcmsOf(t *testing.T, g *Group) []*hcmv3.HttpConnectionManager {
	t.Helper()
	var out []*hcmv3.HttpConnectionManager
	for _, r := range g.Listeners {
		l := r.(*listenerv3.Listener)
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if f.GetName() != "envoy.filters.network.http_connection_manager" {
					continue // the connection limit
				}
				h := &hcmv3.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
					t.Fatal(err)
				}
				out = append(out, h)
			}
		}
		if al := l.GetApiListener(); al != nil {
			h := &hcmv3.HttpConnectionManager{}
			if err := al.GetApiListener().UnmarshalTo(h); err != nil {
				t.Fatal(err)
			}
			out = append(out, h)
		}
	}
	return out
}

func filterNames(h *hcmv3.HttpConnectionManager) []string {
	var out []string
	for _, f := range h.GetHttpFilters() {
		out = append(out, f.GetName())
	}
	return out
}

func eachRoute(g *Group, fn func(rc string, r *routev3.Route)) {
	for _, res := range g.Routes {
		rc := res.(*routev3.RouteConfiguration)
		for _, vh := range rc.GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				fn(rc.GetName(), r)
			}
		}
	}
}

// wireOrder is ENVOY-MAPPING.md's filter order.
var wireOrder = []string{
	wire.FilterHeaderMutation, wire.FilterEdgeRBAC, wire.FilterEdgeLocalRateLimit, wire.FilterLocalRateLimit, wire.FilterRBAC, wire.FilterJWT,
	wire.FilterExtAuthzClosed, wire.FilterExtAuthzOpen, wire.FilterRateLimitDeny, wire.FilterRateLimitAllow,
	wire.FilterRouter,
}

func TestEnvoyFilterOrderAndPerRouteConfigs(t *testing.T) {
	rank := map[string]int{}
	for i, n := range wireOrder {
		rank[n] = i
	}
	for _, c := range policyCases {
		for k, g := range translateCase(t, c, Options{}) {
			if k.Client != ClientEnvoy {
				continue
			}
			for _, h := range hcmsOf(t, g) {
				names := filterNames(h)
				if names[0] != wire.FilterHeaderMutation || names[len(names)-1] != wire.FilterRouter {
					t.Errorf("%s %s: want header_mutation first and router last: %v", c, k, names)
				}
				for i := 1; i < len(names); i++ {
					if rank[names[i-1]] >= rank[names[i]] {
						t.Errorf("%s %s: filters out of order: %v", c, k, names)
					}
				}
				has := map[string]bool{}
				for _, n := range names {
					has[n] = true
				}
				// Every Route must say what each ext_authz instance does
				// on it: enabled with context extensions, or disabled.
				eachRoute(g, func(rc string, r *routev3.Route) {
					enabled := 0
					for _, inst := range []string{wire.FilterExtAuthzClosed, wire.FilterExtAuthzOpen} {
						if !has[inst] {
							continue
						}
						a := r.GetTypedPerFilterConfig()[inst]
						if a == nil {
							t.Errorf("%s %s route %s: no per-route config for %s", c, k, r.GetName(), inst)
							continue
						}
						pr := &extauthzv3.ExtAuthzPerRoute{}
						if err := a.UnmarshalTo(pr); err != nil {
							t.Fatal(err)
						}
						if cs := pr.GetCheckSettings(); cs != nil {
							enabled++
							ce := cs.GetContextExtensions()
							if ce[wire.CtxRoute] != r.GetName() || ce[wire.CtxGateway] != k.Gateway {
								t.Errorf("%s %s route %s: context extensions %v", c, k, r.GetName(), ce)
							}
						}
					}
					if enabled > 1 {
						t.Errorf("%s %s route %s: both ext_authz instances enabled", c, k, r.GetName())
					}
				})
			}
		}
	}
}

func TestProxylessGroupsGetNoPolicyFilters(t *testing.T) {
	for _, c := range policyCases {
		groups := translateCase(t, c, Options{})
		for k, g := range groups {
			if k.Client != ClientGRPC {
				continue
			}
			for _, h := range hcmsOf(t, g) {
				if names := filterNames(h); len(names) != 1 || names[0] != wire.FilterRouter {
					t.Errorf("%s %s: filters %v, want the router only", c, k, names)
				}
			}
			eachRoute(g, func(rc string, r *routev3.Route) {
				if len(r.GetTypedPerFilterConfig()) > 0 || len(r.GetRoute().GetRateLimits()) > 0 {
					t.Errorf("%s %s route %s: per-route filter config or rate limits", c, k, r.GetName())
				}
			})
			for _, r := range g.Clusters {
				if n := r.(*clusterv3.Cluster).GetName(); !strings.HasPrefix(n, "svc/") {
					t.Errorf("%s %s: internal cluster %s", c, k, n)
				}
			}
			grpcRules(t, g)
			if len(g.Routes) > 0 && len(g.Skipped) == 0 {
				t.Errorf("%s %s: Skipped does not say what proxyless clients miss", c, k)
			}
		}
	}
}

func TestGatewayWithoutPoliciesGetsNoPolicyFilters(t *testing.T) {
	groups := translateCase(t, "basic", Options{})
	g := groups[GroupKey{"edge", ClientEnvoy}]
	for _, h := range hcmsOf(t, g) {
		// The per-client limit is on by default (ddos.go).
		if names := filterNames(h); len(names) != 3 || names[1] != wire.FilterEdgeLocalRateLimit {
			t.Errorf("filters %v, want header_mutation, the per-client limit and router", names)
		}
	}
	for _, r := range g.Clusters {
		if n := r.(*clusterv3.Cluster).GetName(); !strings.HasPrefix(n, "svc/") {
			t.Errorf("internal cluster %s without a filter using it", n)
		}
	}
}

func clusterByName(g *Group, name string) *clusterv3.Cluster {
	for _, r := range g.Clusters {
		if c := r.(*clusterv3.Cluster); c.GetName() == name {
			return c
		}
	}
	return nil
}

func TestOptionsAddressesAndDefaults(t *testing.T) {
	groups := translateCase(t, "ratelimit", Options{AuthzAddr: "authz.gatehouse.internal:9000", RateLimitAddr: "[::1]:9001", RateLimitTimeout: 40 * time.Millisecond})
	g := groups[GroupKey{"edge", ClientEnvoy}]
	a := clusterByName(g, wire.AuthzCluster)
	if a == nil || a.GetType() != clusterv3.Cluster_STRICT_DNS || a.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue() != 9000 {
		t.Errorf("authz cluster: %v", a)
	}
	rl := clusterByName(g, wire.RateLimitCluster)
	if rl == nil || rl.GetType() != clusterv3.Cluster_STATIC || rl.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetAddress() != "::1" {
		t.Errorf("ratelimit cluster: %v", rl)
	}
	if _, ok := rl.GetTypedExtensionProtocolOptions()[httpProtocolOptionsKey]; !ok {
		t.Error("ratelimit cluster: no HTTP/2 protocol options")
	}
	if d := rateLimitTimeout(t, g, wire.FilterRateLimitDeny); d != 40*time.Millisecond {
		t.Errorf("ratelimit timeout %v, want RateLimitTimeout 40ms", d)
	}
	if _, err := Translate(&policy.Snapshot{Gateways: map[string]*policy.Gateway{}}, Options{AuthzAddr: "no-port"}); err == nil {
		t.Error("want an error for an AuthzAddr without a port")
	}
	if _, err := Translate(&policy.Snapshot{}, Options{RateLimitAddr: "h:0"}); err == nil {
		t.Error("want an error for port 0")
	}
}

// rateLimitTimeout returns a ratelimit filter's timeout from the first
// connection manager.
func rateLimitTimeout(t *testing.T, g *Group, filter string) time.Duration {
	t.Helper()
	for _, f := range hcmsOf(t, g)[0].GetHttpFilters() {
		if f.GetName() == filter {
			rl := &ratelimitv3.RateLimit{}
			if err := f.GetTypedConfig().UnmarshalTo(rl); err != nil {
				t.Fatal(err)
			}
			return rl.GetTimeout().AsDuration()
		}
	}
	return 0
}

func TestJWKSClusters(t *testing.T) {
	for uri, want := range map[string]string{
		"https://idp.example.com/jwks.json":          "jwks/idp.example.com",
		"https://idp.example.com:443/jwks.json":      "jwks/idp.example.com",
		"https://idp.example.com:8443/jwks.json":     "jwks/idp.example.com:8443",
		"http://idp.example.com/jwks.json":           "jwks/http/idp.example.com:80",
		"http://idp.example.com:8443/jwks.json":      "jwks/http/idp.example.com:8443",
		"https://[2001:db8::1]/jwks.json":            "jwks/2001:db8::1",
		"https://[2001:db8::1]:8443/.well-known/jwk": "jwks/[2001:db8::1]:8443",
	} {
		got, err := parseJWKSURI(uri)
		if err != nil || got.cluster != want {
			t.Errorf("%s: cluster %q (%v), want %q", uri, got.cluster, err, want)
		}
	}
	for _, bad := range []string{"https:///jwks", "https://h:0/x", "https://h:99999/x", "://"} {
		if _, err := parseJWKSURI(bad); err == nil || !strings.HasPrefix(err.Error(), "JWKS URI ") {
			t.Errorf("%s: %v, want an error naming the JWKS URI", bad, err)
		}
		// A login's token endpoint goes through the same parser: its
		// errors name what the user wrote.
		if _, err := parseIdPURI("idp", bad); err == nil || !strings.HasPrefix(err.Error(), "token endpoint ") {
			t.Errorf("%s: %v, want an error naming the token endpoint", bad, err)
		}
	}
	g := translateCase(t, "auth", Options{SystemCAFile: "/etc/ssl/ca.pem"})[GroupKey{"edge", ClientEnvoy}]
	c := clusterByName(g, "jwks/idp.example.com")
	if c == nil {
		t.Fatal("no jwks cluster")
	}
	u := &tlsv3.UpstreamTlsContext{}
	if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(u); err != nil {
		t.Fatal(err)
	}
	vc := u.GetCommonTlsContext().GetValidationContext()
	if u.GetSni() != "idp.example.com" || vc.GetTrustedCa().GetFilename() != "/etc/ssl/ca.pem" || vc.GetSystemRootCerts() != nil {
		t.Errorf("jwks TLS: %v", u)
	}
	if c := clusterByName(g, "jwks/http/jwks.lab.internal:8081"); c == nil || c.GetTransportSocket() != nil {
		t.Errorf("plain-http JWKS cluster: %v", c)
	}
}
