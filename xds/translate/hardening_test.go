package translate

import (
	"strings"
	"testing"
	"testing/fstest"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// loadYAML loads one policy file and fails the test on any rejection.
func loadYAML(t *testing.T, src string) *policy.Snapshot {
	t.Helper()
	snap := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(src)}}, nil)
	for _, r := range snap.Rejected {
		t.Fatalf("policy rejected %s: %s", r.Ref, strings.Join(r.Errors, "; "))
	}
	return snap
}

func translateYAML(t *testing.T, src string) map[GroupKey]*Group {
	t.Helper()
	groups, err := Translate(loadYAML(t, src), Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	return groups
}

func routeNamed(t *testing.T, g *Group, name string) *routev3.Route {
	t.Helper()
	var out *routev3.Route
	eachRoute(g, func(_ string, r *routev3.Route) {
		if r.GetName() == name {
			out = r
		}
	})
	if out == nil {
		t.Fatalf("%s: no route %s", g.Key, name)
	}
	return out
}

// enabledAuthz is the ext_authz instance a route enables, or "".
func enabledAuthz(t *testing.T, r *routev3.Route) string {
	t.Helper()
	on := ""
	for _, inst := range []string{wire.FilterExtAuthzClosed, wire.FilterExtAuthzOpen} {
		a := r.GetTypedPerFilterConfig()[inst]
		if a == nil {
			continue
		}
		pr := &extauthzv3.ExtAuthzPerRoute{}
		if err := a.UnmarshalTo(pr); err != nil {
			t.Fatal(err)
		}
		if pr.GetCheckSettings() != nil {
			if on != "" {
				t.Fatalf("route %s: both ext_authz instances enabled", r.GetName())
			}
			on = inst
		}
	}
	return on
}

const hardeningBase = `kind: Gateway
name: gw
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
%DEFAULTS%
---
kind: Service
name: web
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Authorization
name: open-on-error
spec:
  inline: |
    package envoy.authz
    default allow := true
  failOpen: true
---
kind: Authorization
name: closed
spec:
  inline: |
    package envoy.authz
    default allow := true
`

func withDefaults(defaults string) string {
	return strings.Replace(hardeningBase, "%DEFAULTS%", defaults, 1)
}

// Item 3: a Route that requires a credential is checked by the fail-closed
// ext_authz instance whatever its Authorization's failOpen says; only a
// Route any caller may use can get the failure_mode_allow instance.
func TestFailOpenNeverCoversAuthentication(t *testing.T) {
	for _, c := range []struct {
		name, defaults, route string
		want                  string
	}{
		{"own authentication, failOpen", "", "authentication: [keys]\n  authorization: open-on-error", wire.FilterExtAuthzClosed},
		{"gateway default authentication, failOpen", "  defaults: {authentication: [keys]}", "authorization: open-on-error", wire.FilterExtAuthzClosed},
		{"anonymous, failOpen", "", "authorization: open-on-error", wire.FilterExtAuthzOpen},
		{"default turned off, failOpen", "  defaults: {authentication: [keys]}", "authentication: []\n  authorization: open-on-error", wire.FilterExtAuthzOpen},
		{"own authentication, fail-closed", "", "authentication: [keys]\n  authorization: closed", wire.FilterExtAuthzClosed},
		{"authentication only", "", "authentication: [keys]", wire.FilterExtAuthzClosed},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := withDefaults(c.defaults) + "---\nkind: Route\nname: r\nspec:\n  gateways: [gw]\n  backends: [{service: web}]\n  " + c.route + "\n"
			g := translateYAML(t, src)[GroupKey{"gw", ClientEnvoy}]
			if got := enabledAuthz(t, routeNamed(t, g, "r")); got != c.want {
				t.Errorf("route enables %q, want %q", got, c.want)
			}
			for _, h := range hcmsOf(t, g) {
				for _, n := range filterNames(h) {
					if n == wire.FilterExtAuthzOpen && c.want != wire.FilterExtAuthzOpen {
						t.Errorf("fail-open instance in the chain though no Route may use it: %v", filterNames(h))
					}
				}
			}
		})
	}
}

// removedByHeaderMutation lists what a connection manager's header_mutation
// filter removes from requests.
func removedByHeaderMutation(t *testing.T, g *Group) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, res := range g.Listeners {
		l := res.(*listenerv3.Listener)
		for i, h := range hcmsOf(t, &Group{Listeners: []typesResource{l}}) {
			where := l.GetName() + "#" + string(rune('0'+i))
			found := false
			for _, f := range h.GetHttpFilters() {
				if f.GetName() != wire.FilterHeaderMutation {
					continue
				}
				found = true
				hm := &headermutationv3.HeaderMutation{}
				if err := f.GetTypedConfig().UnmarshalTo(hm); err != nil {
					t.Fatal(err)
				}
				for _, m := range hm.GetMutations().GetRequestMutations() {
					out[where] = append(out[where], m.GetRemove())
				}
			}
			if !found {
				t.Errorf("%s %s: no header_mutation filter", g.Key, where)
			}
		}
	}
	return out
}

// Item 8: every Envoy listener of every Gateway strips every claim header
// of every JWT Authentication, the consumer header and ext_authz's
// failure-mode header, whether or not its own Routes use them.
func TestHeaderMutationStripsEveryClaimHeaderOnEveryGateway(t *testing.T) {
	snap, _ := loadCase(t, "testdata/in/auth")
	want := []string{wire.ConsumerHeader, "x-envoy-auth-failure-mode-allowed"}
	for _, a := range snap.Authentications {
		if a.Spec.JWT != nil {
			for _, c := range a.Spec.JWT.ClaimsToHeaders {
				want = append(want, strings.ToLower(c.Header))
			}
		}
	}
	if len(want) < 5 {
		t.Fatalf("the auth case should have several claim headers, got %v", want)
	}
	groups, err := Translate(snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	gateways := 0
	for k, g := range groups {
		if k.Client != ClientEnvoy {
			continue
		}
		gateways++
		for where, removed := range removedByHeaderMutation(t, g) {
			set := map[string]bool{}
			for _, h := range removed {
				set[h] = true
			}
			for _, h := range want {
				if !set[h] {
					t.Errorf("%s listener %s: header_mutation does not remove %s (removes %v)", k, where, h, removed)
				}
			}
		}
	}
	if gateways < 3 {
		t.Fatalf("want the three Gateways of the auth case, got %d", gateways)
	}
}

// Item 10: jwt_authn forwards every token (so ext_authz and Rego see the
// Authorization header), and a Route with a forwardToken: false JWT
// removes the header for the upstream through request_headers_to_remove.
func TestForwardTokenFalseKeepsAuthorizationForExtAuthz(t *testing.T) {
	groups := translateCase(t, "auth", Options{})
	for k, g := range groups {
		if k.Client != ClientEnvoy {
			continue
		}
		for _, h := range hcmsOf(t, g) {
			for _, f := range h.GetHttpFilters() {
				if f.GetName() != wire.FilterJWT {
					continue
				}
				cfg := &jwtv3.JwtAuthentication{}
				if err := f.GetTypedConfig().UnmarshalTo(cfg); err != nil {
					t.Fatal(err)
				}
				for n, p := range cfg.GetProviders() {
					if !p.GetForward() {
						t.Errorf("%s provider %s: forward false removes the token before ext_authz", k, n)
					}
				}
			}
		}
	}
	edge := groups[GroupKey{"edge", ClientEnvoy}]
	for route, strip := range map[string]bool{
		"users":    true,  // default corp-jwt: forwardToken false
		"grpc":     true,  // corp-jwt and lab-jwt
		"partners": false, // partner-jwt forwards its token, plus API keys
		"public":   false, // no authentication
	} {
		r := routeNamed(t, edge, route)
		got := false
		for _, h := range r.GetRequestHeadersToRemove() {
			got = got || h == "authorization"
		}
		if got != strip {
			t.Errorf("edge route %s: removes authorization = %v, want %v", route, got, strip)
		}
	}
}

func TestAuthorizationRemovedKeepsTheRoutesOwnRemovals(t *testing.T) {
	src := withDefaults("") + `---
kind: Authentication
name: jwt
spec:
  jwt:
    issuer: https://idp.example.com/
    audiences: [api]
    jwks: {inline: '{"keys":[{"kty":"EC","crv":"P-256","kid":"p1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}'}
---
kind: Route
name: r
spec:
  gateways: [gw]
  backends: [{service: web}]
  authentication: [jwt]
  headers: {request: {remove: [x-debug, Authorization]}}
---
kind: Route
name: s
spec:
  gateways: [gw]
  match: {path: {prefix: /s}}
  backends: [{service: web}]
  authentication: [jwt]
  headers: {request: {remove: [x-debug]}}
`
	g := translateYAML(t, src)[GroupKey{"gw", ClientEnvoy}]
	if got := strings.Join(routeNamed(t, g, "s").GetRequestHeadersToRemove(), ","); got != "authorization,x-debug" {
		t.Errorf("route s removes %s, want authorization,x-debug", got)
	}
	if got := routeNamed(t, g, "r").GetRequestHeadersToRemove(); len(got) != 2 {
		t.Errorf("route r removes %v: Authorization listed twice", got)
	}
}

// Item 13a/b: streaming Routes (GRPC backends, streaming, websocket) get
// no route timeout, honour grpc-timeout, and their listeners no
// request_timeout; WebSocket is enabled per route (on by default for
// HTTP routes), never on the connection manager.
func TestStreamingAndWebSocketRoutes(t *testing.T) {
	groups := translateCase(t, "auth", Options{})
	internal := groups[GroupKey{"internal", ClientEnvoy}]
	for _, name := range []string{"grpc", "events"} {
		ra := routeNamed(t, internal, name).GetRoute()
		if ra.GetTimeout() == nil || ra.GetTimeout().AsDuration() != 0 {
			t.Errorf("streaming route %s: timeout %v, want 0 (off)", name, ra.GetTimeout())
		}
		if ra.GetMaxStreamDuration().GetGrpcTimeoutHeaderMax() == nil {
			t.Errorf("streaming route %s: grpc-timeout not honoured", name)
		}
	}
	if u := routeNamed(t, internal, "events").GetRoute().GetUpgradeConfigs(); len(u) != 1 || u[0].GetUpgradeType() != "websocket" || !u[0].GetEnabled().GetValue() {
		t.Errorf("events: upgrade configs %v, want websocket enabled", u)
	}
	// Plain HTTP Routes accept WebSocket by default (issue 14 item 4)
	// without becoming streaming: they keep Envoy's route timeout.
	for _, name := range []string{"users", "public"} {
		ra := routeNamed(t, internal, name).GetRoute()
		if ra.GetTimeout() != nil || ra.GetMaxStreamDuration() != nil {
			t.Errorf("plain route %s: %v", name, ra)
		}
		if u := ra.GetUpgradeConfigs(); len(u) != 1 || u[0].GetUpgradeType() != "websocket" || !u[0].GetEnabled().GetValue() {
			t.Errorf("plain route %s: upgrade configs %v, want websocket enabled by default", name, u)
		}
	}
	if u := routeNamed(t, internal, "grpc").GetRoute().GetUpgradeConfigs(); len(u) > 0 {
		t.Errorf("gRPC route: upgrade configs %v, want none (HTTP/2 only)", u)
	}
	for _, h := range hcmsOf(t, internal) {
		if h.GetRequestTimeout() != nil {
			t.Errorf("internal listener serves streams but has request_timeout %v", h.GetRequestTimeout())
		}
		if len(h.GetUpgradeConfigs()) > 0 {
			t.Errorf("internal listener enables upgrades for every route: %v", h.GetUpgradeConfigs())
		}
	}
	for _, h := range hcmsOf(t, groups[GroupKey{"ops", ClientEnvoy}]) {
		if h.GetRequestTimeout().AsDuration() != defaultRequestTimeout {
			t.Errorf("ops listener serves no stream: request_timeout %v, want %v", h.GetRequestTimeout(), defaultRequestTimeout)
		}
	}
	// An explicit Gateway requestTimeout is the operator's choice.
	src := withDefaults("  limits: {requestTimeout: 60s}") + "---\nkind: Route\nname: r\nspec:\n  gateways: [gw]\n  backends: [{service: web}]\n  streaming: true\n"
	for _, h := range hcmsOf(t, translateYAML(t, src)[GroupKey{"gw", ClientEnvoy}]) {
		if h.GetRequestTimeout().AsDuration().Seconds() != 60 {
			t.Errorf("explicit requestTimeout: got %v", h.GetRequestTimeout())
		}
	}
	// A listener whose hostnames no streaming Route reaches keeps it.
	src = withDefaults("") + `---
kind: Gateway
name: two
spec:
  listeners:
    - {name: api, port: 8081, protocol: HTTP, hostnames: [api.example.com]}
    - {name: live, port: 8082, protocol: HTTP, hostnames: [live.example.com]}
---
kind: Route
name: live
spec:
  gateways: [two]
  hosts: [live.example.com]
  backends: [{service: web}]
  streaming: true
---
kind: Route
name: api
spec:
  gateways: [two]
  hosts: [api.example.com]
  backends: [{service: web}]
`
	for _, h := range hcmsOf(t, translateYAML(t, src)[GroupKey{"two", ClientEnvoy}]) {
		streams := strings.HasSuffix(h.GetStatPrefix(), "_live")
		if (h.GetRequestTimeout() == nil) != streams {
			t.Errorf("listener %s: request_timeout %v", h.GetStatPrefix(), h.GetRequestTimeout())
		}
	}
}

// TestWildcardHostsServeStreams: a streaming Route reaches a listener
// through a wildcard either way (a listener hostname covering the
// Route's host, or a Route host covering the listener's), and that
// listener drops request_timeout too; a listener of another domain keeps
// it.
func TestWildcardHostsServeStreams(t *testing.T) {
	for _, tc := range []struct {
		name, listener, route string
		streams               bool
	}{
		{"listener wildcard over the route's host", "*.example.com", "live.example.com", true},
		{"route wildcard over the listener's host", "live.example.com", "*.example.com", true},
		{"another domain", "live.example.org", "*.example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := withDefaults("") + `---
kind: Gateway
name: wild
spec:
  listeners:
    - {name: live, port: 8082, protocol: HTTP, hostnames: ["` + tc.listener + `"]}
---
kind: Route
name: live
spec:
  gateways: [wild]
  hosts: ["` + tc.route + `"]
  backends: [{service: web}]
  streaming: true
`
			hs := hcmsOf(t, translateYAML(t, src)[GroupKey{"wild", ClientEnvoy}])
			if len(hs) != 1 {
				t.Fatalf("%d connection managers, want 1", len(hs))
			}
			if got := hs[0].GetRequestTimeout() == nil; got != tc.streams {
				t.Errorf("request_timeout %v, want none: %v", hs[0].GetRequestTimeout(), tc.streams)
			}
		})
	}
}

// Item 13c: a listener's certificate is fetched with no initial fetch
// timeout, so the listener never starts serving without it.
func TestSDSWaitsForTheCertificate(t *testing.T) {
	n := 0
	for k, g := range translateCase(t, "https", Options{}) {
		for _, res := range g.Listeners {
			for _, fc := range res.(*listenerv3.Listener).GetFilterChains() {
				ts := fc.GetTransportSocket()
				if ts == nil {
					continue
				}
				d := &tlsv3.DownstreamTlsContext{}
				if err := ts.GetTypedConfig().UnmarshalTo(d); err != nil {
					t.Fatal(err)
				}
				for _, sds := range d.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs() {
					n++
					ift := sds.GetSdsConfig().GetInitialFetchTimeout()
					if ift == nil || ift.AsDuration() != 0 {
						t.Errorf("%s %s: SDS initial_fetch_timeout %v, want 0 (Envoy's default is 15s)", k, sds.GetName(), ift)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no SDS secret config in the https case")
	}
}

// Item 13d: Envoy clusters never keep the default max_retries of 3.
func TestRetriesNotCappedAtThree(t *testing.T) {
	for _, c := range []string{"routing", "services", "auth"} {
		snap, _ := loadCase(t, "testdata/in/"+c)
		groups, err := Translate(snap, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for k, g := range groups {
			if k.Client != ClientEnvoy {
				continue
			}
			for _, res := range g.Clusters {
				cl := res.(*clusterv3.Cluster)
				svc := snap.Services[strings.TrimPrefix(cl.GetName(), "svc/")]
				if svc == nil {
					continue
				}
				th := cl.GetCircuitBreakers().GetThresholds()
				if len(th) != 1 || th[0].GetMaxRetries() == nil {
					t.Errorf("%s %s %s: no max_retries (Envoy's default caps concurrent retries at 3)", c, k, cl.GetName())
					continue
				}
				want := uint32(envoyDefaultMaxRequests)
				if cb := svc.Spec.CircuitBreaker; cb != nil && cb.MaxRetries > 0 {
					want = uint32(cb.MaxRetries)
				} else if cb != nil && cb.MaxRequests > 0 {
					want = uint32(cb.MaxRequests)
				}
				if got := th[0].GetMaxRetries().GetValue(); got != want {
					t.Errorf("%s %s %s: max_retries %d, want %d", c, k, cl.GetName(), got, want)
				}
			}
		}
	}
	src := strings.Replace(withDefaults(""), "  discovery: {static: [{address: 127.0.0.1, port: 9001}]}", "  discovery: {static: [{address: 127.0.0.1, port: 9001}]}\n  circuitBreaker: {maxRequests: 200, maxRetries: 7}", 1) +
		"---\nkind: Service\nname: other\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 9002}]}\n  circuitBreaker: {maxRequests: 50}\n" +
		"---\nkind: Route\nname: r\nspec:\n  gateways: [gw]\n  backends: [{service: web}, {service: other}]\n  retries: {attempts: 3, on: [5xx]}\n"
	g := translateYAML(t, src)[GroupKey{"gw", ClientEnvoy}]
	for name, want := range map[string]uint32{"svc/web": 7, "svc/other": 50} {
		if got := clusterByName(g, name).GetCircuitBreakers().GetThresholds()[0].GetMaxRetries().GetValue(); got != want {
			t.Errorf("%s: max_retries %d, want %d", name, got, want)
		}
	}
}
