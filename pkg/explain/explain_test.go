package explain

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// shopPolicy exercises every part of an explanation: a default API-key
// Authentication, a JWT, an allow-rule Authorization with source CIDRs and
// groups, global limits keyed by header, address and consumer, a local
// limit, a plan, and routes that shadow or fall through to one another.
const shopPolicy = `
kind: Gateway
name: shop
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
  defaults:
    authentication: [keys]
---
kind: Service
name: orders
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Service
name: orders-v2
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9002}]}
---
kind: Service
name: site
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9003}]}
---
kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Authentication
name: partner-jwt
spec:
  jwt:
    issuer: https://partners.example.net
    audiences: [api]
    jwks:
      inline: '{"keys":[{"kty":"EC","crv":"P-256","kid":"p1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}'
---
kind: Plan
name: gold
spec:
  rateLimits: [{requests: 100, per: second}]
---
kind: Consumer
name: acme
spec:
  groups: [partners]
  plan: gold
---
kind: Consumer
name: bob
spec:
  groups: [others]
---
kind: Authorization
name: partners-only
spec:
  allow:
    sourceCIDRs: [10.0.0.0/8]
    groups: [partners]
---
kind: RateLimit
name: strict
spec:
  failureMode: deny
  plan: true
  limits:
    - {key: ["header:X-Tenant", remote_address], requests: 10, per: minute}
    - {key: [consumer], requests: 100, per: minute}
    - {key: [remote_address], requests: 5, per: second, local: true}
---
kind: Route
name: orders
spec:
  gateways: [shop]
  hosts: [api.example.com]
  match:
    path: {prefix: /orders, segments: true}
    methods: [POST]
  backends:
    - {service: orders, weight: 3}
    - {service: orders-v2, weight: 1}
  authentication: [keys, partner-jwt]
  authorization: partners-only
  rateLimit: strict
  timeout: 3s
  retries: {attempts: 2, on: [5xx]}
  rewrite: {prefix: /v2/orders}
---
kind: Route
name: site
spec:
  gateways: [shop]
  match:
    path: {prefix: /}
  backends: [{service: site}]
  authentication: []
`

func shopInputs(t *testing.T) Inputs {
	t.Helper()
	return inputsOf(t, shopPolicy)
}

func inputsOf(t *testing.T, yaml string) Inputs {
	t.Helper()
	snap := policy.Load(fstest.MapFS{"policy.yaml": {Data: []byte(yaml)}}, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatalf("policy: %s", strings.Join(errs, "\n"))
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Inputs{Policy: snap, Groups: groups, Endpoints: registry.Snapshot{"orders": {{Address: "127.0.0.1", Port: 9001, Weight: 1}}}}
}

// hcmOf is the connection manager the translator emits, for the host and
// path settings.
func hcmOf() *hcmv3.HttpConnectionManager {
	snap := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(shopPolicy)}}, nil)
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		panic(err)
	}
	l := groups[translate.GroupKey{Gateway: "shop", Client: translate.ClientEnvoy}].Listeners[0].(*listenerv3.Listener)
	h, err := connectionManager(l.GetFilterChains()[0])
	if err != nil {
		panic(err)
	}
	return h
}

func explainOK(t *testing.T, in Inputs, r Request) *Result {
	t.Helper()
	res, err := Explain(in, r)
	if err != nil {
		t.Fatalf("Explain(%+v): %v", r, err)
	}
	return res
}

func descriptorText(ds []Descriptor) []string {
	var out []string
	for _, d := range ds {
		var es []string
		for _, e := range d.Entries {
			v := e.Value
			if !e.Known {
				v = "?"
			}
			es = append(es, e.Key+"="+v)
		}
		out = append(out, strings.Join(es, ",")+" sent:"+d.Sent)
	}
	return out
}

func TestExplainFullRequest(t *testing.T) {
	in := shopInputs(t)
	res := explainOK(t, in, Request{
		Gateway: "shop", Host: "api.example.com:8080", Path: "/orders/7", Method: "POST",
		Headers: []KV{{"X-Tenant", "t1"}}, Consumer: "acme", ClientIP: "10.1.2.3",
	})
	r := res.Route
	if r == nil {
		t.Fatalf("no route: %s %+v", res.NoMatch, res.Considered)
	}
	if r.Name != "orders" || r.Policy != "Route/orders" || r.Source != "policy.yaml:72" {
		t.Errorf("route %s %s %s", r.Name, r.Policy, r.Source)
	}
	if res.Listener != "listener/shop/8080" || res.VirtualHost != "api.example.com" {
		t.Errorf("listener %s vhost %s", res.Listener, res.VirtualHost)
	}
	if len(r.Backends) != 2 || r.Backends[0].Service != "orders" || r.Backends[0].Share != 75 || r.Backends[1].Share != 25 || *r.Backends[0].Endpoints != 1 {
		t.Errorf("backends %+v", r.Backends)
	}
	if r.Timeout != "3s" || r.Retries != "up to 2 on 5xx" || r.Rewrite != "path /orders/7 -> /v2/orders/7" {
		t.Errorf("timeout %q retries %q rewrite %q", r.Timeout, r.Retries, r.Rewrite)
	}
	an := r.Authentication
	if an == nil || an.Anonymous || len(an.Accepts) != 2 || an.Accepts[0].Name != "keys" || an.Accepts[0].Detail != "header x-api-key" || an.Accepts[1].Kind != "jwt" {
		t.Errorf("authentication %+v", an)
	}
	az := r.Authorization
	if az == nil || az.Name != "partners-only" || az.ClientIP != "inside: allowed" || az.FailOpen ||
		!strings.Contains(az.Rules, "consumer acme is: allowed") || strings.Join(az.SourceCIDRs, ",") != "10.0.0.0/8" {
		t.Errorf("authorization %+v", az)
	}
	if len(r.RateLimits) != 1 || r.RateLimits[0].FailureMode != "deny" || r.RateLimits[0].Domain != "gatehouse/shop" {
		t.Fatalf("rate limits %+v", r.RateLimits)
	}
	got := strings.Join(descriptorText(r.RateLimits[0].Descriptors), "\n")
	want := strings.Join([]string{
		"ratelimit=strict#0,header:X-Tenant=t1,masked_remote_address=10.1.2.3/32 sent:yes",
		// The variant for an absent header fails at that entry.
		"ratelimit=strict#0 sent:no: its header condition (not (x-tenant present)) does not hold",
		"ratelimit=strict#1,consumer=acme sent:yes",
		"plan=acme sent:yes",
	}, "\n")
	if got != want {
		t.Errorf("descriptors:\n%s\nwant:\n%s", got, want)
	}
	if d := r.RateLimits[0].Descriptors; d[0].Limit != "RateLimit/strict limit #0: 10 per minute" || d[3].Limit != "Plan/gold of Consumer/acme" {
		t.Errorf("limits %q %q", d[0].Limit, d[3].Limit)
	}
	if len(r.LocalRateLimits) != 1 || r.LocalRateLimits[0].Bucket != "5 requests per 1s per Envoy" {
		t.Errorf("local %+v", r.LocalRateLimits)
	}
	var filters []string
	for _, f := range r.Filters {
		filters = append(filters, f.Filter)
	}
	if strings.Join(filters, " ") != "envoy.filters.http.header_mutation envoy.filters.http.local_ratelimit/edge envoy.filters.http.local_ratelimit envoy.filters.http.rbac envoy.filters.http.jwt_authn envoy.filters.http.ext_authz/fail-closed envoy.filters.http.ratelimit/failure-deny envoy.filters.http.router" {
		t.Errorf("filters %s", strings.Join(filters, " "))
	}
}

func TestExplainUnknownsAndAbsentHeaders(t *testing.T) {
	in := shopInputs(t)
	// No consumer, no client IP, no x-tenant: the header variant is left
	// out, the "missing" one sent; address and consumer are not known.
	res := explainOK(t, in, Request{Gateway: "shop", Host: "api.example.com", Path: "/orders", Method: "POST"})
	if res.Route == nil || res.Route.Name != "orders" {
		t.Fatalf("route %+v: %s", res.Route, res.NoMatch)
	}
	got := strings.Join(descriptorText(res.Route.RateLimits[0].Descriptors), "\n")
	want := strings.Join([]string{
		"ratelimit=strict#0,header:X-Tenant=?,masked_remote_address=? sent:no: header x-tenant is absent",
		"ratelimit=strict#0,header:X-Tenant=missing,masked_remote_address=? sent:yes",
		"ratelimit=strict#1,consumer=? sent:yes",
		"plan=? sent:yes",
	}, "\n")
	// The first descriptor fails at its header entry: nothing after it.
	want = strings.Replace(want, "ratelimit=strict#0,header:X-Tenant=?,masked_remote_address=? sent:no", "ratelimit=strict#0 sent:no", 1)
	if got != want {
		t.Errorf("descriptors:\n%s\nwant:\n%s", got, want)
	}
	if res.Route.Authorization.ClientIP != "" {
		t.Errorf("client IP verdict without a client IP: %q", res.Route.Authorization.ClientIP)
	}
	// A client outside the CIDRs and a consumer outside the groups.
	res = explainOK(t, in, Request{Gateway: "shop", Host: "api.example.com", Path: "/orders", Method: "POST", ClientIP: "192.0.2.1", Consumer: "bob"})
	if az := res.Route.Authorization; az.ClientIP != "outside: 403" || !strings.Contains(az.Rules, "consumer bob is not: 403") {
		t.Errorf("authorization %+v", az)
	}
	res = explainOK(t, in, Request{Gateway: "shop", Host: "api.example.com", Path: "/orders", Method: "POST", Consumer: "nobody"})
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "Consumer nobody is not in the policy") {
		t.Errorf("notes %v", res.Notes)
	}
}

func TestExplainSkippedRoutesAndFallThrough(t *testing.T) {
	in := shopInputs(t)
	for _, c := range []struct {
		name, host, path, method string
		route, skipped           string
	}{
		// site's hosts default to "*": its virtual host takes only hosts
		// no other virtual host has, so api.example.com never reaches it.
		{"method", "api.example.com", "/orders/1", "GET", "", "method GET does not match POST"},
		{"segment", "api.example.com", "/ordersx", "POST", "", "neither /orders nor under /orders/"},
		{"other host", "www.example.com", "/orders/1", "POST", "site", ""},
		{"trailing dot and port", "API.example.com.:8080", "/orders", "POST", "orders", ""},
		{"normalized path", "api.example.com", "/x/../orders//1", "POST", "orders", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := explainOK(t, in, Request{Gateway: "shop", Host: c.host, Path: c.path, Method: c.method})
			if c.route == "" {
				if res.Route != nil || len(res.Considered) != 1 || !strings.Contains(res.Considered[0].Reason, c.skipped) ||
					!strings.Contains(res.NoMatch, "no route of virtual host api.example.com matches") {
					t.Errorf("got %+v, considered %+v, no match %q", res.Route, res.Considered, res.NoMatch)
				}
				return
			}
			if res.Route == nil || res.Route.Name != c.route {
				t.Fatalf("got %+v (%s), want %s", res.Route, res.NoMatch, c.route)
			}
			if res.Route.Name == "site" && (res.Route.Authentication != nil || len(res.Route.RateLimits) > 0) {
				t.Errorf("site has no policies, got %+v", res.Route)
			}
		})
	}
	res := explainOK(t, in, Request{Gateway: "shop", Host: "api.example.com", Path: "/a/../orders//1", Method: "POST"})
	if res.Path != "/orders/1" || len(res.Notes) == 0 || !strings.Contains(res.Notes[0], "normalizes") {
		t.Errorf("path %s notes %v", res.Path, res.Notes)
	}
}

func TestExplainNoMatch(t *testing.T) {
	// site serves www.example.com only: no virtual host for other hosts.
	in := inputsOf(t, strings.Replace(shopPolicy, "  gateways: [shop]\n  match:\n    path: {prefix: /}", "  gateways: [shop]\n  hosts: [www.example.com]\n  match:\n    path: {prefix: /}", 1))
	for _, c := range []struct {
		name string
		r    Request
		want string
	}{
		{"host", Request{Gateway: "shop", Host: "nowhere.example.com", Path: "/"}, `no virtual host has a domain matching "nowhere.example.com"`},
		{"route", Request{Gateway: "shop", Host: "api.example.com", Path: "/orders", Method: "GET"},
			"Closest: route orders, whose path matches but method GET does not match POST"},
		{"path", Request{Gateway: "shop", Host: "api.example.com", Path: "/other?x=1"}, "No route's path matches /other"},
		{"port", Request{Gateway: "shop", Host: "api.example.com:9999", Path: "/"}, "no listener on port 9999 (its ports: 8080)"},
		{"grpc host", Request{Gateway: "shop", Client: translate.ClientGRPC, Host: "nowhere", Path: "/a.B/C"}, "xds:///nowhere resolves to nothing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := explainOK(t, in, c.r)
			if res.Route != nil || !strings.Contains(res.NoMatch, c.want) {
				t.Errorf("route %+v, no match %q, want %q", res.Route, res.NoMatch, c.want)
			}
		})
	}
}

func TestExplainRejectsBadRequests(t *testing.T) {
	in := shopInputs(t)
	for _, c := range []struct {
		r    Request
		want string
	}{
		{Request{Gateway: "nope", Host: "h", Path: "/"}, `gateway "nope": no such Gateway was translated (Gateways: shop)`},
		{Request{Gateway: "shop", Host: "h", Path: "x"}, "starts with '/'"},
		{Request{Gateway: "shop", Path: "/"}, "host:"},
		{Request{Gateway: "shop", Host: "h", Path: "/", Client: "curl"}, "want envoy or grpc"},
		{Request{Gateway: "shop", Host: "h", Path: "/", Method: "get"}, "upper case"},
		{Request{Gateway: "shop", Host: "h", Path: "/", Headers: []KV{{":path", "/x"}}}, "regular header name"},
		{Request{Gateway: "shop", Host: "h", Path: "/", Query: []KV{{"a", "b&c"}}}, "query a=b&c"},
		{Request{Gateway: "shop", Host: "h", Path: "/", ClientIP: "10.0.0.300"}, "client IP"},
	} {
		if _, err := Explain(in, c.r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.r, err, c.want)
		}
	}
}

func TestExplainProxyless(t *testing.T) {
	// orders needs protections proxyless clients cannot enforce: withheld,
	// kept in the table with a non-forwarding action so that its calls do
	// not fall through.
	in := shopInputs(t)
	res := explainOK(t, in, Request{Gateway: "shop", Client: translate.ClientGRPC, Host: "api.example.com", Path: "/orders/x"})
	if res.Route == nil || res.Route.Name != "orders" || !strings.HasPrefix(res.Route.Action, "withheld") || len(res.Route.Backends) != 0 {
		t.Fatalf("route %+v: %s", res.Route, res.NoMatch)
	}
	if res.Listener != "api.example.com" || res.RouteConfig != "grpc/shop/api.example.com" {
		t.Errorf("listener %s route config %s", res.Listener, res.RouteConfig)
	}
	if len(res.Route.Filters) != 1 || !strings.Contains(res.Route.Filters[0].Effect, "no HTTP filters") {
		t.Errorf("filters %+v", res.Route.Filters)
	}
	// A method POST fails keeps its :method matcher, which grpc-go never
	// matches (a call's metadata has no :method): explain says so, and the
	// call matches nothing.
	in = inputsOf(t, strings.Replace(shopPolicy, "    methods: [POST]\n", "    methods: [PUT]\n", 1))
	res = explainOK(t, in, Request{Gateway: "shop", Client: translate.ClientGRPC, Host: "api.example.com", Path: "/orders/x"})
	if res.Route != nil || !strings.Contains(res.Considered[0].Reason, "not part of a proxyless gRPC call's metadata") ||
		!strings.Contains(res.NoMatch, "UNAVAILABLE") {
		t.Errorf("route %+v, considered %+v, no match %q", res.Route, res.Considered, res.NoMatch)
	}
}

func TestResultIsJSON(t *testing.T) {
	res := explainOK(t, shopInputs(t), Request{Gateway: "shop", Host: "api.example.com", Path: "/orders", Method: "POST"})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || back.Route.Name != "orders" {
		t.Fatalf("round trip: %v %+v", err, back.Route)
	}
}

// A Route withheld from proxyless clients must catch its calls (they fail
// UNAVAILABLE) rather than let them fall through to a less specific,
// unprotected Route. With methods, its :method matcher would never match a
// gRPC call (grpc-go matches metadata, which has no :method), so the
// translator drops it when the methods include POST, the method of every
// gRPC call.
func TestProxylessWithheldRouteWithMethodsDoesNotFallThrough(t *testing.T) {
	src := shopPolicy + `---
kind: Route
name: open
spec:
  gateways: [shop]
  hosts: [api.example.com]
  match: {path: {prefix: /}}
  backends: [{service: site}]
  authentication: []
  rateLimit: none
`
	for _, c := range []struct {
		methods, route, action string
	}{
		{"[POST]", "orders", "withheld"},
		{"[GET, POST]", "orders", "withheld"},
		// Without POST the route takes no gRPC call, through Envoy either.
		{"[GET]", "open", "forward"},
	} {
		in := inputsOf(t, strings.Replace(src, "    methods: [POST]\n", "    methods: "+c.methods+"\n", 1))
		res := explainOK(t, in, Request{Gateway: "shop", Client: translate.ClientGRPC, Host: "api.example.com", Path: "/orders/x"})
		if res.Route == nil || res.Route.Name != c.route || !strings.HasPrefix(res.Route.Action, c.action) {
			t.Errorf("methods %s: route %+v, considered %+v", c.methods, res.Route, res.Considered)
		}
		// Envoy agrees for a POST.
		res = explainOK(t, in, Request{Gateway: "shop", Host: "api.example.com", Path: "/orders/x", Method: "POST"})
		if want := map[string]string{"withheld": "orders", "forward": "open"}[c.action]; res.Route == nil || res.Route.Name != want {
			t.Errorf("methods %s via Envoy: route %+v", c.methods, res.Route)
		}
	}
}

// Claims come from tokens jwt_authn verifies at request time: never known
// offline, and a descriptor that reads one is sent only when the claim is
// there. IPv6 clients are counted by their /64.
func TestExplainClaimAndIPv6Descriptors(t *testing.T) {
	in := goldenCases(t)["ratelimit"]
	res := explainOK(t, in, Request{Gateway: "edge", Host: "a.example.com", Path: "/strict/x",
		Headers: []KV{{"X-Tenant", "t1"}}, ClientIP: "2001:db8:1:2::7", Consumer: "acme"})
	if res.Route == nil || res.Route.Name != "strict" || len(res.Route.RateLimits) != 1 {
		t.Fatalf("route %+v (%s)", res.Route, res.NoMatch)
	}
	got := strings.Join(descriptorText(res.Route.RateLimits[0].Descriptors), "\n")
	for _, want := range []string{
		"ratelimit=strict#0,route=strict,consumer=acme sent:yes",
		"ratelimit=strict#1,masked_remote_address=2001:db8:1:2::/64,path=/strict/x,method=GET sent:yes",
		"ratelimit=strict#2,header:X-Tenant=t1,claim:sub=? sent:only if present: (claim sub of a token verified by corp-jwt: not known offline)",
		"ratelimit=strict#2,header:X-Tenant=t1,claim:sub=? sent:only if present: (claim sub of a token verified by other-jwt: not known offline)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("descriptors lack %q:\n%s", want, got)
		}
	}
	// The path key reads the header the first filter sets from the path
	// without its query; a client's own copy is removed first.
	res = explainOK(t, in, Request{Gateway: "edge", Host: "a.example.com", Path: "/strict/x?token=1",
		Headers: []KV{{"x-gatehouse-ratelimit-path", "/forged"}}})
	got = strings.Join(descriptorText(res.Route.RateLimits[0].Descriptors), "\n")
	if !strings.Contains(got, "path=/strict/x,method=GET") || strings.Contains(got, "forged") {
		t.Errorf("path descriptor:\n%s", got)
	}
}

// TestExplainSkipsTunnels: a CONNECT Route on every host (its
// connect_matcher route sits in the catch-all virtual host) matches no
// request explain takes, and explain says why instead of failing.
func TestExplainSkipsTunnels(t *testing.T) {
	in := inputsOf(t, shopPolicy+"---\nkind: Route\nname: tunnel\nspec:\n  gateways: [shop]\n  upgrades: [CONNECT]\n  backends: [{service: orders}]\n")
	res := explainOK(t, in, Request{Gateway: "shop", Host: "nowhere.example.com", Path: "/x", Method: "GET"})
	if res.Route != nil && res.Route.Name == "tunnel" {
		t.Fatalf("a GET was explained as reaching the CONNECT tunnel")
	}
}
