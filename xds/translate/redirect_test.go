package translate

import (
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// redirectGroups translates the redirects golden case.
func redirectGroups(t *testing.T) (map[GroupKey]*Group, func(*Group) error) {
	t.Helper()
	snap, reg := loadCase(t, filepath.Join("testdata", "in", "redirects"))
	groups, err := Translate(snap, Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	return groups, func(g *Group) error {
		g.checked = false // mutated after Translate checked it
		return Check(g, groupCLAs(g, reg))
	}
}

func routeConfig(t *testing.T, g *Group, name string) *routev3.RouteConfiguration {
	t.Helper()
	for _, r := range g.Routes {
		if rc := r.(*routev3.RouteConfiguration); rc.GetName() == name {
			return rc
		}
	}
	t.Fatalf("no route config %s in %s", name, g.Key)
	return nil
}

// TestDirectResponseBodyLimit: a body over Envoy's default 4096 bytes
// raises the table's limit, and Check refuses a table whose body is over
// its limit (Envoy would reject the whole RouteConfiguration).
func TestDirectResponseBodyLimit(t *testing.T) {
	groups, check := redirectGroups(t)
	g := groups[GroupKey{"edge", ClientEnvoy}]
	rc := routeConfig(t, g, "routes/edge/https")
	if got := rc.GetMaxDirectResponseBodySizeBytes().GetValue(); got <= envoyDefaultDirectBody {
		t.Fatalf("max_direct_response_body_size_bytes = %d; the maintenance page needs more than %d", got, envoyDefaultDirectBody)
	}
	if rc := routeConfig(t, groups[GroupKey{"plain", ClientEnvoy}], "routes/plain/http"); rc.GetMaxDirectResponseBodySizeBytes() != nil {
		t.Errorf("a table without long bodies keeps Envoy's default; got %d", rc.GetMaxDirectResponseBodySizeBytes().GetValue())
	}
	rc.MaxDirectResponseBodySizeBytes = nil
	err := check(g)
	if err == nil || !strings.Contains(err.Error(), "route maintenance: direct response body is 5527 bytes, over the route table's max_direct_response_body_size_bytes 4096") {
		t.Errorf("Check = %v; want the maintenance body over the default limit", err)
	}
}

// TestProxylessWithholdsAnswers: a proxyless table never carries a
// redirect or direct response (grpc-go fails calls on them anyway); the
// Routes keep their match with a non-forwarding action, so a call cannot
// fall through to the catch-all, and Check refuses a table that has one.
func TestProxylessWithholdsAnswers(t *testing.T) {
	groups, check := redirectGroups(t)
	g := groups[GroupKey{"edge", ClientGRPC}]
	rc := routeConfig(t, g, "grpc/edge/api.example.com")
	withheld := 0
	for _, rt := range rc.GetVirtualHosts()[0].GetRoutes() {
		switch {
		case rt.GetRedirect() != nil || rt.GetDirectResponse() != nil:
			t.Errorf("route %s: proxyless table has a redirect or direct response", rt.GetName())
		case rt.GetNonForwardingAction() != nil:
			withheld++
		}
	}
	if withheld != 8 {
		t.Errorf("%d routes withheld; want the 8 answering Routes", withheld)
	}
	if n := len(g.Skipped); n != 8 || !strings.Contains(g.Skipped[0], "Route/deprecated: a redirect or direct response is Envoy-only") {
		t.Errorf("Skipped = %q", g.Skipped)
	}
	env := routeConfig(t, groups[GroupKey{"edge", ClientEnvoy}], "routes/edge/https")
	rc.GetVirtualHosts()[0].Routes[0] = env.GetVirtualHosts()[0].GetRoutes()[0]
	if err := check(g); err == nil || !strings.Contains(err.Error(), "proxyless gRPC clients cannot redirect or answer directly") {
		t.Errorf("Check = %v; want the redirect refused in a proxyless table", err)
	}
}

// TestHTTPSRedirectListener: an httpsRedirect listener serves no Route,
// only the redirect, for every host, on the Gateway's one HTTPS port.
func TestHTTPSRedirectListener(t *testing.T) {
	groups, _ := redirectGroups(t)
	rc := routeConfig(t, groups[GroupKey{"edge", ClientEnvoy}], "routes/edge/http")
	if len(rc.GetVirtualHosts()) != 1 || rc.GetVirtualHosts()[0].GetDomains()[0] != "*" {
		t.Fatalf("virtual hosts = %v; want one for *", rc.GetVirtualHosts())
	}
	rts := rc.GetVirtualHosts()[0].GetRoutes()
	if len(rts) != 1 || !rts[0].GetRedirect().GetHttpsRedirect() || rts[0].GetRedirect().GetPortRedirect() != 8443 || rts[0].GetMatch().GetPrefix() != "/" {
		t.Errorf("routes = %v; want only the https redirect to 8443", rts)
	}
}

// TestHTTPSRedirectOnProtectedGateway: on a Gateway whose Routes need a
// credential, the redirect of an httpsRedirect listener needs none (it
// only sends the client to https, where the Routes are protected); its
// per-route configs turn ext_authz off like any unprotected Route's.
func TestHTTPSRedirectOnProtectedGateway(t *testing.T) {
	snap := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(`kind: Gateway
name: gw
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP, httpsRedirect: true}
  defaults: {authentication: [keys]}
---
kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Service
name: a
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: r
spec:
  gateways: [gw]
  backends: [{service: a}]
`)}}, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatalf("policy: %v", errs)
	}
	groups, err := Translate(snap, Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	rc := routeConfig(t, groups[GroupKey{"gw", ClientEnvoy}], "routes/gw/http")
	rts := rc.GetVirtualHosts()[0].GetRoutes()
	if len(rts) != 1 || !rts[0].GetRedirect().GetHttpsRedirect() {
		t.Fatalf("routes = %v; want only the https redirect", rts)
	}
	cfg := rts[0].GetTypedPerFilterConfig()
	if len(cfg) == 0 {
		t.Fatalf("the redirect carries no per-route filter configs; want ext_authz turned off")
	}
	disabled := 0
	for name, a := range cfg {
		pr := &extauthzv3.ExtAuthzPerRoute{}
		if a.UnmarshalTo(pr) != nil {
			continue
		}
		if !pr.GetDisabled() {
			t.Errorf("%s on the redirect: %v; want disabled", name, pr)
		}
		disabled++
	}
	if disabled == 0 {
		t.Errorf("no ext_authz per-route config on the redirect: %v", cfg)
	}
}

// TestDirectBodyLimitEdges: a body of exactly Envoy's default limit loads
// without raising it (Envoy accepts a body as long as the limit:
// test/integration/direct_response_integration_test.cc sets the limit to
// the body's size), one byte more raises it, and Check refuses a body
// only past the table's limit.
func TestDirectBodyLimitEdges(t *testing.T) {
	table := func(n int) *routev3.RouteConfiguration {
		return &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{{Routes: []*routev3.Route{{
			Name: "r",
			Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 200,
				Body: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: strings.Repeat("a", n)}}}},
		}}}}}
	}
	rc := table(envoyDefaultDirectBody)
	directBodyLimit(rc)
	if rc.MaxDirectResponseBodySizeBytes != nil {
		t.Errorf("a body of %d bytes raised the limit to %d", envoyDefaultDirectBody, rc.GetMaxDirectResponseBodySizeBytes().GetValue())
	}
	if err := checkDirectBodies(rc); err != nil {
		t.Errorf("a body of exactly the default limit: %v", err)
	}
	rc = table(envoyDefaultDirectBody + 1)
	if err := checkDirectBodies(rc); err == nil {
		t.Error("a body one byte over the default limit passed Check")
	}
	directBodyLimit(rc)
	if err := checkDirectBodies(rc); err != nil || rc.MaxDirectResponseBodySizeBytes == nil {
		t.Errorf("one byte over: limit %v, Check %v", rc.GetMaxDirectResponseBodySizeBytes(), err)
	}
}

// TestMatchedPrefix: the prefix a path match goes by: "/" for none, ""
// for an exact or a regex path (either alone).
func TestMatchedPrefix(t *testing.T) {
	for want, pm := range map[string]policy.PathMatch{"/": {}, "/api": {Prefix: "/api"}, "": {Exact: "/x"}} {
		if got := matchedPrefix(&pm); got != want {
			t.Errorf("%+v: %q, want %q", pm, got, want)
		}
	}
	if got := matchedPrefix(&policy.PathMatch{Regex: "^/x$"}); got != "" {
		t.Errorf("regex: %q, want \"\"", got)
	}
}
