package policy

import (
	"testing"
	"time"
)

// keysAuthn is an API-key Authentication (lines 1-5 of the cases using it).
const keysAuthn = "kind: Authentication\nname: keys\nspec:\n  apiKey: {header: x-api-key}\n---\n"

// TestBadCache: each way a cache block, or its use on a Route, can be
// wrong names file, line, object and field, including the attempts to
// get one client's cookie or one consumer's answer to another.
func TestBadCache(t *testing.T) {
	ok := route + "  gateways: [gw]\n  backends: [{service: a}]\n" // lines 1-5
	runBadCases(t, []badCase{
		{"cache null", ok + "  cache:\n", 6, "Route/r", "spec.cache", "must not be empty"},
		{"cache ttl zero", ok + "  cache: {ttl: 0s}\n", 6, "Route/r", "spec.cache.ttl", "must be greater than 0"},
		{"cache ttl fraction", ok + "  cache: {ttl: 1500ms}\n", 6, "Route/r", "spec.cache.ttl", "not whole seconds"},
		{"cache ttl too long", ok + "  cache: {ttl: 9000h}\n", 6, "Route/r", "spec.cache.ttl", "longer than a year"},
		{"cache vary star", ok + "  cache:\n    vary: [\"*\"]\n", 7, "Route/r", "spec.cache.vary[0]", "Vary: * is never cached"},
		{"cache vary not a name", ok + "  cache:\n    vary: [\"a b\"]\n", 7, "Route/r", "spec.cache.vary[0]", "not a header name"},
		{"cache vary consumer", ok + "  cache:\n    vary: [X-Gatehouse-Consumer]\n", 7, "Route/r", "spec.cache.vary[0]", "added by gatehouse itself"},
		{"cache vary duplicate", ok + "  cache:\n    vary: [accept, Accept]\n", 7, "Route/r", "spec.cache.vary[1]", `duplicate header "Accept"`},
		{"cache disabled false", ok + "  cache: {disabled: false}\n", 6, "Route/r", "spec.cache.disabled", "only true is allowed"},
		{"cache disabled and ttl", ok + "  cache: {disabled: true, ttl: 5s}\n", 6, "Route/r", "spec.cache", "disabled: true takes no other field"},
		{"cache disabled and vary", ok + "  cache: {disabled: true, vary: [accept]}\n", 6, "Route/r", "spec.cache", "disabled: true takes no other field"},
		{"cache disabled and private", ok + "  cache: {disabled: true, private: false}\n", 6, "Route/r", "spec.cache", "disabled: true takes no other field"},
		{"cache unknown field", ok + "  cache: {maxAge: 5s}\n", 6, "Route/r", "spec.cache.maxAge", `unknown field "maxAge"`},
		{"gateway cache disabled", "kind: Gateway\nname: g2\nspec:\n  listeners: [{name: http, port: 8081, protocol: HTTP}]\n  defaults:\n    cache: {disabled: true}\n",
			6, "Gateway/g2", "spec.defaults.cache.disabled", "only a Route's cache can be disabled"},
		// A cookie set on a cached Route would be served to every client
		// that gets the cached answer.
		{"cache route sets cookie", ok + "  headers:\n    response:\n      set: {Set-Cookie: \"session=1\"}\n  cache: {}\n",
			8, "Route/r", "spec.headers.response.set.Set-Cookie", "a cookie would be served to every client"},
		{"cache route adds cookie", ok + "  headers:\n    response:\n      add:\n        set-cookie: \"a=1\"\n  cache: {}\n",
			9, "Route/r", "spec.headers.response.add.set-cookie", "a cookie would be served to every client"},
		{"cache transformation sets cookie", xform + "  response:\n    setHeaders:\n      set-cookie: {literal: \"a=1\"}\n---\n" + ok + "  transformation: x\n  cache: {}\n",
			13, "Route/r", "spec.transformation", `Transformation "x" sets a cookie`},
		// A ttl on a Route cached per consumer would reach a CDN in front.
		{"cache ttl per consumer", keysAuthn + ok + "  authentication: [keys]\n  cache: {private: false, ttl: 60s}\n",
			12, "Route/r", "spec.cache.ttl", "cached per consumer"},
	})
}

// TestCachedOn: a public Route is cached with the Gateway default; one
// requiring authentication only with private: false, then per consumer;
// disabled turns the default off.
func TestCachedOn(t *testing.T) {
	f := false
	tr := true
	gw := &Gateway{Spec: GatewaySpec{Defaults: &GatewayDefaults{Cache: &Cache{TTL: Duration(time.Minute)}}}}
	keys := []string{"keys"}
	for _, tc := range []struct {
		name              string
		spec              RouteSpec
		cached, perClient bool
	}{
		{"public default", RouteSpec{}, true, false},
		{"public own", RouteSpec{Cache: &Cache{}}, true, false},
		{"disabled", RouteSpec{Cache: &Cache{Disabled: true}}, false, false},
		{"authenticated default", RouteSpec{Authentication: &keys}, false, false},
		{"authenticated private unset", RouteSpec{Authentication: &keys, Cache: &Cache{}}, false, false},
		{"authenticated private true", RouteSpec{Authentication: &keys, Cache: &Cache{Private: &tr}}, false, false},
		{"authenticated private false", RouteSpec{Authentication: &keys, Cache: &Cache{Private: &f}}, true, true},
	} {
		r := &Route{Spec: tc.spec}
		c, p := r.CachedOn(gw)
		if c != tc.cached || p != tc.perClient {
			t.Errorf("%s: CachedOn = %v, %v; want %v, %v", tc.name, c, p, tc.cached, tc.perClient)
		}
	}
	if c, _ := (&Route{}).CachedOn(&Gateway{}); c {
		t.Error("a Route without cache on a Gateway without default is cached")
	}
}

// TestCacheAccepted: the refusals above are exact: a public Route may
// carry a ttl, and a Route cached per consumer loads without one.
func TestCacheAccepted(t *testing.T) {
	ok := route + "  gateways: [gw]\n  backends: [{service: a}]\n"
	for name, yaml := range map[string]string{
		"public ttl":              ok + "  cache: {ttl: 60s}\n",
		"ttl of a year":           ok + "  cache: {ttl: 8760h}\n",
		"disabled alone":          ok + "  cache: {disabled: true}\n",
		"per consumer, no ttl":    keysAuthn + ok + "  authentication: [keys]\n  cache: {private: false}\n",
		"per consumer, vary only": keysAuthn + ok + "  authentication: [keys]\n  cache: {private: false, vary: [accept]}\n",
	} {
		s := Load(testFS(t, map[string]string{"r.yaml": yaml}), nil)
		if len(s.Rejected) != 0 || s.Routes["r"] == nil {
			t.Errorf("%s: rejected: %q", name, s.Errors())
		}
	}
}
