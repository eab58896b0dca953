// Package security_paths is the attacker's view of path handling: a corpus
// of path-confusion requests (;, ..;, %2F, %2f, %2e, %252F, case, trailing
// slash and dot, //) sent through (1) the route matching of the
// configuration gatehouse emits, as Envoy would apply it (envoy_model_test.go,
// routes_model_test.go), (2) the ext_authz input's parsed_path, and (3) the
// Rego library's path helpers, both through the authz service.
package security_paths

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// The gateway under attack: a protected catch-all ("root"), a protected
// /admin, a public string prefix /public, a public segment-wise /docs, and
// a host of its own whose every path is protected.
const policyYAML = `kind: Gateway
name: edge
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: app
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Authorization
name: admins
spec:
  allow: {groups: [admins]}
---
kind: Route
name: root
spec:
  gateways: [edge]
  backends: [{service: app}]
  authorization: admins
---
kind: Route
name: admin
spec:
  gateways: [edge]
  match: {path: {prefix: /admin}}
  backends: [{service: app}]
  authorization: admins
---
kind: Route
name: public
spec:
  gateways: [edge]
  match: {path: {prefix: /public}}
  backends: [{service: app}]
---
kind: Route
name: docs
spec:
  gateways: [edge]
  match: {path: {prefix: /docs, segments: true}}
  backends: [{service: app}]
---
kind: Route
name: admin-host
spec:
  gateways: [edge]
  hosts: [admin.example.com]
  backends: [{service: app}]
  authorization: admins
`

// protected are the routes above that require the admins group.
var protected = map[string]bool{"root": true, "admin": true, "admin-host": true}

type edgeConfig struct {
	routes *routev3.RouteConfiguration
	hcm    *hcmv3.HttpConnectionManager
}

// emitted translates the policy and returns the Envoy route table and
// connection manager of listener http, exactly as gatehouse serves them.
func emitted(t *testing.T) edgeConfig {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "edge.yaml"), []byte(policyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	snap := policy.LoadDir(dir, nil)
	if len(snap.Rejected) > 0 {
		t.Fatalf("policy rejected: %+v", snap.Rejected)
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := groups[translate.GroupKey{Gateway: "edge", Client: translate.ClientEnvoy}]
	var c edgeConfig
	for _, r := range g.Routes {
		if rc := r.(*routev3.RouteConfiguration); rc.GetName() == "routes/edge/http" {
			c.routes = rc
		}
	}
	for _, r := range g.Listeners {
		for _, fc := range r.(*listenerv3.Listener).GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if f.GetName() != "envoy.filters.network.http_connection_manager" {
					continue // the connection limit
				}
				h := &hcmv3.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(h); err == nil && h.GetRds().GetRouteConfigName() == "routes/edge/http" {
					c.hcm = h
				}
			}
		}
	}
	if c.routes == nil || c.hcm == nil {
		t.Fatal("no route table or connection manager for listener http")
	}
	return c
}

// attack is one request and where it must end up.
type attack struct {
	name, host, path string
	// route is the route Envoy must choose (after following a redirect);
	// "" means no route (404).
	route string
	// redirect: Envoy first redirects the client to the decoded path.
	redirect bool
	// reject: Envoy answers 400 before routing.
	reject bool
	// oldEnvoy, when set, is the route reached on an Envoy without
	// strip_dotdot_segments_with_parameters (releases before that fix).
	oldEnvoy string
}

var corpus = []attack{
	{name: "plain", path: "/admin/users", route: "admin"},
	{name: "semicolon param on the segment", path: "/admin;x=1/users", route: "admin"},
	{name: "dot-dot with parameter", path: "/public/..;/admin", route: "admin", oldEnvoy: "public"},
	{name: "dot-dot with parameter value", path: "/public/..;x=y/admin/", route: "admin", oldEnvoy: "public"},
	{name: "dot with parameter", path: "/public/.;/x", route: "public"},
	{name: "encoded dot-dot", path: "/public/%2e%2e/admin", route: "admin"},
	{name: "encoded dot-dot upper", path: "/public/%2E%2E/admin", route: "admin"},
	{name: "half-encoded dot-dot", path: "/public/.%2e/admin", route: "admin"},
	{name: "encoded unreserved letter", path: "/%61dmin", route: "admin"},
	{name: "encoded slash", path: "/public%2F..%2Fadmin", route: "admin", redirect: true},
	{name: "encoded slash lower", path: "/public%2f..%2fadmin", route: "admin", redirect: true},
	{name: "encoded backslash", path: "/public%5C..%5Cadmin", route: "admin", redirect: true},
	// Envoy decodes once: a double-encoded slash stays text and the
	// request is for the public route. An upstream that decodes twice sees
	// /admin: the limit docs/security/edge.md names.
	{name: "double-encoded slash", path: "/public%252F..%252Fadmin", route: "public"},
	{name: "upper case", path: "/ADMIN/users", route: "root"},
	{name: "mixed case public", path: "/Public/x", route: "root"},
	{name: "trailing slash", path: "/admin/", route: "admin"},
	{name: "trailing dot", path: "/admin.", route: "admin"},
	{name: "trailing dot on public", path: "/public.", route: "public"},
	{name: "double slash", path: "//admin", route: "admin"},
	{name: "double slash inside", path: "/public//admin", route: "public"},
	{name: "empty segment dot-dot", path: "/public//../admin", route: "public"},
	{name: "dot segment", path: "/./admin", route: "admin"},
	{name: "above root", path: "/../../admin", route: "admin"},
	{name: "query holds a path", path: "/public?next=/../admin", route: "public"},
	{name: "string prefix", path: "/publicadmin", route: "public"},
	{name: "segment prefix", path: "/docsadmin", route: "root"},
	{name: "segment prefix itself", path: "/docs", route: "docs"},
	{name: "segment prefix slash", path: "/docs/", route: "docs"},
	{name: "segment prefix below", path: "/docs/a/b?x=1", route: "docs"},
	{name: "segment prefix parameter", path: "/docs;x/a", route: "root"},
	{name: "segment prefix dot-dot out", path: "/docs/../admin", route: "admin"},
	{name: "segment prefix encoded dot-dot out", path: "/docs/%2e%2e/admin", route: "admin"},
	{name: "escaped NUL", path: "/admin/.%00./x", reject: true},
	{name: "host", host: "admin.example.com", path: "/public/x", route: "admin-host"},
	{name: "host trailing dot", host: "admin.example.com.", path: "/public/x", route: "admin-host"},
	{name: "host trailing dot and port", host: "admin.example.com.:8080", path: "/public/x", route: "admin-host"},
	{name: "host upper case", host: "ADMIN.example.com", path: "/public/x", route: "admin-host"},
}

// reach is where a request ends up in the emitted configuration: the
// chosen route's name, and whether Envoy redirected or rejected it first.
func reach(t *testing.T, c edgeConfig, a attack, stripDotParams bool) (route string, redirected, rejected bool, forwarded string) {
	t.Helper()
	s := settingsOf(c.hcm, stripDotParams)
	out := normalizePath(a.path, s)
	if out.reject {
		return "", false, true, ""
	}
	if out.redirect {
		// The client follows the redirect; the second request has no
		// escaped slash left.
		next := normalizePath(out.path, s)
		if next.redirect || next.reject {
			t.Fatalf("%s: redirect to %q is redirected again", a.name, out.path)
		}
		out.path, redirected = next.path, true
	}
	host := a.host
	if host == "" {
		host = "api.example.com"
	}
	r := routeFor(c.routes, normalizeHost(host, c.hcm), "GET", out.path)
	if r == nil {
		return "", redirected, false, out.path
	}
	return r.GetName(), redirected, false, out.path
}

// TestPathConfusionRouting: no request of the corpus reaches a route other
// than the one its canonical path names; in particular none that is under
// a protected path lands on a public route.
func TestPathConfusionRouting(t *testing.T) {
	c := emitted(t)
	for _, a := range corpus {
		route, redirected, rejected, fwd := reach(t, c, a, true)
		if rejected != a.reject || redirected != a.redirect || route != a.route {
			t.Errorf("%s: %s%s -> route %q (redirect %v, reject %v, forwarded %q); want route %q (redirect %v, reject %v)",
				a.name, a.host, a.path, route, redirected, rejected, fwd, a.route, a.redirect, a.reject)
		}
		if a.oldEnvoy != "" {
			if route, _, _, _ := reach(t, c, a, false); route != a.oldEnvoy {
				t.Errorf("%s on an Envoy without strip_dotdot_segments_with_parameters: route %q, want %q", a.name, route, a.oldEnvoy)
			}
		}
	}
}

// TestPathConfusionNeverPublicForAdmin: whatever the spelling, a request
// whose canonical path (as the Rego library and a Tomcat- or Spring-style
// upstream read it) is under /admin is decided by a protected route. The
// known exceptions are listed with the reason.
func TestPathConfusionNeverPublicForAdmin(t *testing.T) {
	c := emitted(t)
	exceptions := map[string]string{
		"double-encoded slash": "Envoy decodes once; only an upstream decoding twice sees /admin",
	}
	for _, a := range corpus {
		if a.reject || a.host != "" {
			continue
		}
		route, _, _, fwd := reach(t, c, a, true)
		canon := upstreamView(fwd)
		if !(canon == "/admin" || strings.HasPrefix(canon, "/admin/")) {
			continue
		}
		if !protected[route] {
			if why, ok := exceptions[a.name]; ok {
				t.Logf("%s: reaches %s (%s)", a.name, route, why)
				continue
			}
			t.Errorf("%s: %s is /admin to the upstream (%s) but reaches the public route %q", a.name, a.path, canon, route)
		}
	}
}

// upstreamView is how a Tomcat/Spring-style upstream reads a forwarded
// path: parameters stripped per segment, decoded once, dot segments
// resolved (the same reading as lib.path, tested in corpus_rego_test.go).
func upstreamView(p string) string {
	p = withoutQuery(p)
	var segs []string
	for _, s := range strings.Split(p, "/") {
		s, _, _ = strings.Cut(s, ";")
		if s == "" {
			continue
		}
		s = percentDecodeOnce(s)
		for _, x := range strings.Split(strings.ReplaceAll(s, `\`, "/"), "/") {
			switch x {
			case "", ".":
			case "..":
				if len(segs) > 0 {
					segs = segs[:len(segs)-1]
				}
			default:
				segs = append(segs, x)
			}
		}
	}
	return "/" + strings.Join(segs, "/")
}

func percentDecodeOnce(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
