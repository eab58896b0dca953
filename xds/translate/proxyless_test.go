package translate

import (
	"fmt"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// Item 14: a proxyless group never routes to a protected Route unless the
// Route or its Gateway opts in; a withheld Route keeps its match with a
// non-forwarding action, so its calls fail instead of falling through to
// the catch-all.
func TestProxylessWithholdsProtectedRoutes(t *testing.T) {
	const base = `kind: Service
name: api
spec:
  protocol: GRPC
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: RateLimit
name: rl
spec:
  limits: [{key: [remote_address], requests: 10, per: second}]
---
kind: Authorization
name: az
spec:
  allow: {sourceCIDRs: [10.0.0.0/8]}
---
# The catch-all a withheld Route must not fall through to.
kind: Route
name: catch-all
spec:
  gateways: [gw]
  hosts: [api.example.com]
  backends: [{service: api}]
  authentication: []
  rateLimit: none
`
	route := func(extra string) string {
		return "---\nkind: Route\nname: admin\nspec:\n  gateways: [gw]\n  hosts: [api.example.com]\n  match: {path: {prefix: /admin.Admin/}, query: [{name: debug, present: true}]}\n  backends: [{service: api}]\n" + extra
	}
	gateway := func(extra string) string {
		return "---\nkind: Gateway\nname: gw\nspec:\n  listeners: [{name: http, port: 8080, protocol: HTTP}]\n" + extra
	}
	for _, c := range []struct {
		name, gw, route string
		served          bool
	}{
		{"authentication", "", "  authentication: [keys]\n", false},
		{"authentication by Gateway default", "  defaults: {authentication: [keys]}\n", "", false},
		{"authorization", "", "  authorization: az\n", false},
		{"rate limit", "", "  rateLimit: rl\n", false},
		{"rate limit by Gateway default", "  defaults: {rateLimit: rl}\n", "", false},
		{"Route opts in", "", "  authentication: [keys]\n  proxyless: {serveUnprotected: true}\n", true},
		{"Gateway opts in", "  proxyless: {serveUnprotected: true}\n", "  authorization: az\n", true},
		{"Route opts out of Gateway's opt-in", "  proxyless: {serveUnprotected: true}\n", "  authorization: az\n  proxyless: {serveUnprotected: false}\n", false},
		{"no protection", "", "  authentication: []\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := base + gateway(c.gw) + route(c.route)
			if c.served {
				// A proxyless client cannot use a query match: served
				// Routes here have none.
				src = strings.Replace(src, ", query: [{name: debug, present: true}]", "", 1)
			}
			g := translateYAML(t, src)[GroupKey{"gw", ClientGRPC}]
			r := routeNamed(t, g, "admin")
			if served := r.GetRoute() != nil; served != c.served {
				t.Fatalf("admin served = %v, want %v: %v", served, c.served, r)
			}
			if !c.served {
				if r.GetNonForwardingAction() == nil {
					t.Errorf("withheld admin route: action %v, want non_forwarding_action", r.GetAction())
				}
				if len(r.GetMatch().GetQueryParameters()) > 0 {
					t.Error("withheld admin route keeps a query match grpc-go would skip")
				}
				if !strings.Contains(strings.Join(g.Skipped, "\n"), "Route/admin: withheld") {
					t.Errorf("Skipped does not say admin is withheld: %v", g.Skipped)
				}
			}
			// The withheld Route still comes before the catch-all.
			var order []string
			eachRoute(g, func(_ string, r *routev3.Route) { order = append(order, r.GetName()) })
			if len(order) != 2 || order[0] != "admin" {
				t.Errorf("route order %v, want admin before catch-all", order)
			}
		})
	}
}

// A :method matcher never matches a proxyless call (grpc-go matches
// metadata, which has no :method): a withheld Route keeping one would let
// its calls fall through to the catch-all, a served one would never be
// used. It is dropped when POST, the method of every gRPC call, passes it,
// and kept (matching nothing, as through Envoy) when POST does not.
func TestProxylessWithheldRouteMethods(t *testing.T) {
	const src = `kind: Gateway
name: gw
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Service
name: api
spec:
  protocol: GRPC
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Route
name: catch-all
spec:
  gateways: [gw]
  hosts: [api.example.com]
  backends: [{service: api}]
  authentication: []
---
kind: Route
name: admin
spec:
  gateways: [gw]
  hosts: [api.example.com]
  match: {path: {prefix: /admin.Admin/}, methods: METHODS, headers: [{name: x-tenant, present: true}]}
  backends: [{service: api}]
  authentication: [keys]
`
	for _, c := range []struct {
		methods    string
		keepMethod bool
		served     bool
	}{
		{"[POST]", false, false},
		{"[GET, POST]", false, false},
		{"[GET]", true, false},
		{"[GET, PUT]", true, false},
		// A served Route (opted in) is matched the same way.
		{"[POST]", false, true},
		{"[GET]", true, true},
	} {
		t.Run(fmt.Sprintf("%s served=%v", c.methods, c.served), func(t *testing.T) {
			y := strings.Replace(src, "METHODS", c.methods, 1)
			if c.served {
				y += "  proxyless: {serveUnprotected: true}\n"
			}
			groups := translateYAML(t, y)
			r := routeNamed(t, groups[GroupKey{"gw", ClientGRPC}], "admin")
			if withheld := r.GetNonForwardingAction() != nil; withheld == c.served {
				t.Fatalf("admin withheld = %v, want %v: %v", withheld, !c.served, r)
			}
			var names []string
			for _, h := range r.GetMatch().GetHeaders() {
				names = append(names, h.GetName())
			}
			want := "x-tenant"
			if c.keepMethod {
				want = ":method x-tenant"
			}
			if got := strings.Join(names, " "); got != want {
				t.Errorf("withheld match headers %q, want %q", got, want)
			}
			// Envoy's route keeps its method matcher.
			if e := routeNamed(t, groups[GroupKey{"gw", ClientEnvoy}], "admin"); e.GetMatch().GetHeaders()[0].GetName() != ":method" {
				t.Errorf("Envoy route lost its method matcher: %v", e.GetMatch())
			}
		})
	}
}
