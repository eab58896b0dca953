package policy

import (
	"testing"
)

// gwDefaults is a Gateway g2 whose defaults are the given YAML lines
// (lines 1-5, then the defaults from line 6).
func gwDefaults(lines string) string {
	return "kind: Gateway\nname: g2\nspec:\n  listeners: [{name: http, port: 8081, protocol: HTTP}]\n  defaults:\n" + lines + "---\n"
}

// TestBadCDN: every way a cdn block, or its use on a Route, can be wrong
// names file, line, object and field, including each attempt to let a
// cache in front share an authenticated Route's answers without saying so.
func TestBadCDN(t *testing.T) {
	ok := route + "  gateways: [gw]\n  backends: [{service: a}]\n"                                           // lines 1-5
	authed := keysAuthn + route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [keys]\n" // lines 1-11
	g2 := gwDefaults("    cdn: {cacheControl: \"public, max-age=60\"}\n")                                    // lines 1-7
	runBadCases(t, []badCase{
		{"cdn null", ok + "  cdn:\n", 6, "Route/r", "spec.cdn", "must not be empty"},
		{"cdn nothing set", ok + "  cdn: {override: true}\n", 6, "Route/r", "spec.cdn", "set cacheControl, surrogateControl or both"},
		{"cdn empty value", ok + "  cdn: {cacheControl: \" \"}\n", 6, "Route/r", "spec.cdn.cacheControl", "must not be empty"},
		{"cdn unknown directive", ok + "  cdn: {cacheControl: \"max-age=60, cache-forever\"}\n", 6, "Route/r", "spec.cdn.cacheControl", `unknown directive "cache-forever"; allowed: immutable, max-age,`},
		{"cdn header injection", ok + "  cdn: {cacheControl: \"max-age=60\\r\\nset-cookie: a=1\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "is not a whole number of seconds"},
		{"cdn duplicate", ok + "  cdn: {cacheControl: \"max-age=60, Max-Age=5\"}\n", 6, "Route/r", "spec.cdn.cacheControl", `duplicate directive "max-age"`},
		{"cdn missing seconds", ok + "  cdn: {cacheControl: \"s-maxage\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "s-maxage needs a number of seconds"},
		{"cdn value on flag", ok + "  cdn: {cacheControl: \"private=set-cookie\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "private takes no value"},
		{"cdn negative", ok + "  cdn: {cacheControl: \"max-age=-1\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "max-age=-1 is not a whole number"},
		{"cdn too long", ok + "  cdn: {cacheControl: \"max-age=99999999\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "longer than a year"},
		{"cdn public private", ok + "  cdn: {cacheControl: \"public, private\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "public and private contradict"},
		{"cdn no-store max-age", ok + "  cdn: {cacheControl: \"no-store, max-age=5\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "no-store and max-age contradict"},
		{"cdn surrogate unknown", ok + "  cdn: {surrogateControl: \"s-maxage=5\"}\n", 6, "Route/r", "spec.cdn.surrogateControl", `unknown directive "s-maxage"`},
		{"cdn disabled false", ok + "  cdn: {disabled: false}\n", 6, "Route/r", "spec.cdn.disabled", "only true is allowed"},
		{"cdn disabled and more", ok + "  cdn: {disabled: true, cacheControl: no-store}\n", 6, "Route/r", "spec.cdn", "disabled: true takes no other field"},
		{"cdn disabled and surrogate", ok + "  cdn: {disabled: true, surrogateControl: no-store}\n", 6, "Route/r", "spec.cdn", "disabled: true takes no other field"},
		{"cdn disabled and override", ok + "  cdn: {disabled: true, override: true}\n", 6, "Route/r", "spec.cdn", "disabled: true takes no other field"},
		{"cdn disabled and private", ok + "  cdn: {disabled: true, private: false}\n", 6, "Route/r", "spec.cdn", "disabled: true takes no other field"},
		{"cdn empty seconds", ok + "  cdn: {cacheControl: \"max-age=\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "max-age= is not a whole number of seconds"},
		{"cdn signed seconds", ok + "  cdn: {cacheControl: \"max-age=+5\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "max-age=+5 is not a whole number of seconds"},
		{"cdn a year and a second", ok + "  cdn: {cacheControl: \"max-age=31536001\"}\n", 6, "Route/r", "spec.cdn.cacheControl", "max-age=31536001 is longer than a year"},
		{"gateway cdn disabled", gwDefaults("    cdn: {disabled: true}\n"), 6, "Gateway/g2", "spec.defaults.cdn.disabled", "only a Route's cdn can be disabled"},
		{"cdn unknown field", ok + "  cdn: {maxAge: 5}\n", 6, "Route/r", "spec.cdn.maxAge", `unknown field "maxAge"`},
		// An authenticated Route's answers must never be marked for a
		// shared cache unless the Route says private: false.
		{"cdn public on authenticated", authed + "  cdn: {cacheControl: \"public, max-age=60\"}\n", 12, "Route/r", "spec.cdn.cacheControl", "says public, which lets a cache in front (a CDN) serve one caller's answer to another"},
		{"cdn s-maxage on authenticated", authed + "  cdn: {cacheControl: \"s-maxage=60\"}\n", 12, "Route/r", "spec.cdn.cacheControl", "says s-maxage"},
		{"cdn must-revalidate on authenticated", authed + "  cdn: {cacheControl: \"max-age=60, must-revalidate\"}\n", 12, "Route/r", "spec.cdn.cacheControl", "says must-revalidate"},
		{"cdn private true is not sharing", authed + "  cdn: {cacheControl: \"public\", private: true}\n", 12, "Route/r", "spec.cdn.cacheControl", "says public"},
		{"cdn surrogate on authenticated", authed + "  cdn: {surrogateControl: \"max-age=3600\"}\n", 12, "Route/r", "spec.cdn.surrogateControl", "a CDN stores its answers for every caller"},
		{"cdn gateway default public on authenticated", g2 + keysAuthn + route + "  gateways: [g2]\n  backends: [{service: a}]\n  authentication: [keys]\n",
			16, "Route/r", "spec.gateways", "Gateway/g2's default cdn says public"},
		// Two places setting one header.
		{"cdn and cache ttl", ok + "  cache: {ttl: 60s}\n  cdn: {cacheControl: \"max-age=60\"}\n", 7, "Route/r", "spec.cdn.cacheControl", "both would set Cache-Control"},
		{"cdn and per-consumer cache", authed + "  cache: {private: false}\n  cdn: {cacheControl: \"max-age=60\"}\n", 13, "Route/r", "spec.cdn.cacheControl", "cached per consumer"},
		// private: false on the cdn too: the CDN may share, but gatehouse
		// still caches per consumer, so the header is still the CDN's
		// business only (TestCDNSharedWithPerConsumerCache loads it).
		{"cdn and route header", ok + "  headers:\n    response:\n      set: {Cache-Control: no-cache}\n  cdn: {cacheControl: \"max-age=60\"}\n", 7, "Route/r", "spec.headers.response", "sets cache-control too"},
	})
}

// TestBadCompression: a compression block's mistakes, and settings that
// belong to the Gateway written on a Route.
func TestBadCompression(t *testing.T) {
	ok := route + "  gateways: [gw]\n  backends: [{service: a}]\n" // lines 1-5
	runBadCases(t, []badCase{
		{"compression null", ok + "  compression:\n", 6, "Route/r", "spec.compression", "must not be empty"},
		{"compression disabled false", ok + "  compression: {disabled: false}\n", 6, "Route/r", "spec.compression.disabled", "only true is allowed"},
		{"compression disabled and authenticated", ok + "  compression: {disabled: true, authenticated: true}\n", 6, "Route/r", "spec.compression", "disabled: true takes no other field"},
		{"compression algorithms on route", ok + "  compression: {algorithms: [gzip]}\n", 6, "Route/r", "spec.compression.algorithms", "is set on the Gateway"},
		{"compression min on route", ok + "  compression: {minBytes: 10}\n", 6, "Route/r", "spec.compression.minBytes", "is set on the Gateway"},
		{"gateway compression disabled", gwDefaults("    compression: {disabled: true}\n"), 6, "Gateway/g2", "spec.defaults.compression.disabled", "only a Route's compression can be disabled"},
		{"gateway compression unknown algorithm", gwDefaults("    compression: {algorithms: [zstd]}\n"), 6, "Gateway/g2", "spec.defaults.compression.algorithms[0]", `"zstd" is not an algorithm; one of brotli, gzip`},
		{"gateway compression duplicate algorithm", gwDefaults("    compression: {algorithms: [gzip, gzip]}\n"), 6, "Gateway/g2", "spec.defaults.compression.algorithms[1]", `duplicate algorithm "gzip"`},
		{"gateway compression no algorithms", gwDefaults("    compression: {algorithms: []}\n"), 6, "Gateway/g2", "spec.defaults.compression.algorithms", "must list brotli, gzip or both"},
		{"gateway compression min zero", gwDefaults("    compression: {minBytes: 0}\n"), 6, "Gateway/g2", "spec.defaults.compression.minBytes", "must be between 1 and"},
		{"gateway compression wildcard type", gwDefaults("    compression: {contentTypes: [\"text/*\"]}\n"), 6, "Gateway/g2", "spec.defaults.compression.contentTypes[0]", "is not a media type"},
		{"gateway compression type params", gwDefaults("    compression: {contentTypes: [\"text/html; charset=utf-8\"]}\n"), 6, "Gateway/g2", "spec.defaults.compression.contentTypes[0]", "is not a media type"},
		{"gateway compression duplicate type", gwDefaults("    compression: {contentTypes: [text/html, Text/HTML]}\n"), 6, "Gateway/g2", "spec.defaults.compression.contentTypes[1]", "duplicate media type"},
		{"gateway compression unknown field", gwDefaults("    compression: {level: 9}\n"), 6, "Gateway/g2", "spec.defaults.compression.level", `unknown field "level"`},
	})
}

// TestBadDefaultTransformation: the Gateway default Transformation and the
// Route's way out of it.
func TestBadDefaultTransformation(t *testing.T) {
	body := xform + "  response:\n    body: {ops: [{remove: secret}]}\n---\n"                                                // lines 1-5
	grpc := "kind: Service\nname: g\nspec:\n  protocol: GRPC\n  discovery: {static: [{address: 127.0.0.1, port: 9}]}\n---\n" // lines 6-11
	runBadCases(t, []badCase{
		{"default transformation empty", gwDefaults("    transformation: \"\"\n"), 6, "Gateway/g2", "spec.defaults.transformation", "must name a Transformation"},
		{"default transformation none", gwDefaults("    transformation: none\n"), 6, "Gateway/g2", "spec.defaults.transformation", "must name a Transformation"},
		{"default transformation dangling", gwDefaults("    transformation: nope\n"), 6, "Gateway/g2", "spec.defaults.transformation", `Transformation "nope"`},
		{"transformation named none", "kind: Transformation\nname: none\nspec:\n  response: {removeHeaders: [x-a]}\n", 2, "Transformation/none", "name", `"none" is reserved`},
		{"route transformation empty", route + "  gateways: [gw]\n  backends: [{service: a}]\n  transformation: \"\"\n", 6, "Route/r", "spec.transformation", "or be none to turn the Gateway default off"},
		// A default that changes bodies must not reach a gRPC Service.
		{"default transformation on grpc", body + grpc + gwDefaults("    transformation: x\n") + route + "  gateways: [g2]\n  backends: [{service: g}]\n",
			23, "Route/r", "spec.gateways", `Transformation "x" changes bodies, but Service "g" is GRPC (protobuf bodies cannot be transformed; set transformation: none on this Route)`},
		// Nor a CONNECT tunnel.
		{"default transformation on connect", body + gwDefaults("    transformation: x\n") + route + "  gateways: [g2]\n  backends: [{service: a}]\n  upgrades: [CONNECT]\n",
			16, "Route/r", "spec.transformation", `Gateway/g2's default Transformation "x" would apply to this CONNECT Route`},
		// A default Transformation setting a cookie on a cached Route.
		{"default transformation cookie on cached", xform + "  response:\n    setHeaders:\n      set-cookie: {literal: \"a=1\"}\n---\n" + gwDefaults("    transformation: x\n") + route + "  gateways: [g2]\n  backends: [{service: a}]\n  cache: {}\n",
			18, "Route/r", "spec.gateways", `Transformation "x" sets a cookie`},
	})
}

// TestCDNHeaders: what a cache in front is told, per Route: the
// Gateway default unless the Route has its own or turned it off; private
// added on authenticated Routes unless they said private: false.
func TestCDNHeaders(t *testing.T) {
	f := false
	keys := []string{"keys"}
	gw := &Gateway{Spec: GatewaySpec{Defaults: &GatewayDefaults{CDN: &CDN{CacheControl: "max-age=60, Stale-While-Revalidate=30", SurrogateControl: "max-age=3600"}}}}
	for _, tc := range []struct {
		name   string
		spec   RouteSpec
		cc, sc string
		shared bool
	}{
		{"public default", RouteSpec{}, "max-age=60, stale-while-revalidate=30", "max-age=3600", true},
		{"own", RouteSpec{CDN: &CDN{CacheControl: "public,max-age=5"}}, "public, max-age=5", "", true},
		{"disabled", RouteSpec{CDN: &CDN{Disabled: true}}, "", "", true},
		{"authenticated gets private", RouteSpec{Authentication: &keys, CDN: &CDN{CacheControl: "max-age=60"}}, "private, max-age=60", "", false},
		{"authenticated no-store stays", RouteSpec{Authentication: &keys, CDN: &CDN{CacheControl: "no-store"}}, "no-store", "", false},
		{"authenticated shared on purpose", RouteSpec{Authentication: &keys, CDN: &CDN{CacheControl: "public, max-age=60", Private: &f}}, "public, max-age=60", "", true},
	} {
		r := &Route{Spec: tc.spec}
		cc, sc := r.CDNHeaders(gw)
		if cc != tc.cc || sc != tc.sc || r.CDNShared(gw) != tc.shared {
			t.Errorf("%s: CDNHeaders = %q, %q, shared %v; want %q, %q, %v", tc.name, cc, sc, r.CDNShared(gw), tc.cc, tc.sc, tc.shared)
		}
	}
}

// TestCompressedOn: the Gateway default compresses public Routes; an
// authenticated Route only when authenticated: true is said (Route or
// Gateway); a Route can turn it off, or on without a default; a CONNECT
// tunnel never.
func TestCompressedOn(t *testing.T) {
	tr, f := true, false
	keys := []string{"keys"}
	connect := []string{UpgradeCONNECT}
	def := &Gateway{Spec: GatewaySpec{Defaults: &GatewayDefaults{Compression: &Compression{}}}}
	defAuth := &Gateway{Spec: GatewaySpec{Defaults: &GatewayDefaults{Compression: &Compression{Authenticated: &tr}}}}
	none := &Gateway{}
	for _, tc := range []struct {
		name string
		g    *Gateway
		spec RouteSpec
		want bool
	}{
		{"public default", def, RouteSpec{}, true},
		{"no default", none, RouteSpec{}, false},
		{"route turns on", none, RouteSpec{Compression: &Compression{}}, true},
		{"route turns off", def, RouteSpec{Compression: &Compression{Disabled: true}}, false},
		{"authenticated default", def, RouteSpec{Authentication: &keys}, false},
		{"authenticated gateway says so", defAuth, RouteSpec{Authentication: &keys}, true},
		{"authenticated route says so", def, RouteSpec{Authentication: &keys, Compression: &Compression{Authenticated: &tr}}, true},
		{"authenticated route says no", defAuth, RouteSpec{Authentication: &keys, Compression: &Compression{Authenticated: &f}}, false},
		{"connect", def, RouteSpec{Upgrades: &connect}, false},
	} {
		if got := (&Route{Spec: tc.spec}).CompressedOn(tc.g); got != tc.want {
			t.Errorf("%s: CompressedOn = %v, want %v", tc.name, got, tc.want)
		}
	}
	if c := GatewayCompression(none); c.MinBytes != DefaultCompressionMinBytes || len(c.Algorithms) != 2 || c.Algorithms[0] != CompressBrotli || len(c.ContentTypes) == 0 {
		t.Errorf("built-in settings: %+v", c)
	}
}

// TestDefaultTransformationApplies: a Gateway default reaches the Routes
// without their own, none turns it off, and it loads with a Route opting
// out; a shared authenticated CDN Route loads when it says so.
func TestDefaultTransformationApplies(t *testing.T) {
	s := Load(testFS(t, map[string]string{"p.yaml": `kind: Gateway
name: g
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
  defaults:
    transformation: x
    compression: {}
    cdn: {cacheControl: "max-age=60"}
---
kind: Transformation
name: x
spec:
  response: {removeHeaders: [x-powered-by]}
---
kind: Transformation
name: y
spec:
  response: {removeHeaders: [server]}
---
kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Route
name: inherits
spec: {gateways: [g], backends: [{service: a}], match: {path: {prefix: /a}}}
---
kind: Route
name: own
spec: {gateways: [g], backends: [{service: a}], match: {path: {prefix: /b}}, transformation: y}
---
kind: Route
name: opted-out
spec: {gateways: [g], backends: [{service: a}], match: {path: {prefix: /c}}, transformation: none, compression: {disabled: true}}
---
kind: Route
name: shared
spec:
  gateways: [g]
  backends: [{service: a}]
  match: {path: {prefix: /d}}
  authentication: [keys]
  cdn: {cacheControl: "public, s-maxage=60", private: false}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	g := s.Gateways["g"]
	for name, want := range map[string]string{"inherits": "x", "own": "y", "opted-out": ""} {
		if got := s.Routes[name].EffectiveTransformation(g); got != want {
			t.Errorf("%s: EffectiveTransformation = %q, want %q", name, got, want)
		}
	}
	if s.Routes["opted-out"].CompressedOn(g) || !s.Routes["inherits"].CompressedOn(g) || s.Routes["shared"].CompressedOn(g) {
		t.Error("compression: opted-out or authenticated Route compressed, or public Route not")
	}
	if cc, _ := s.Routes["shared"].CDNHeaders(g); cc != "public, s-maxage=60" {
		t.Errorf("shared: Cache-Control %q", cc)
	}
}

// TestCDNAndCompressionAccepted: the refusals of TestBadCDN and
// TestBadCompression are exact: what they do not name loads.
func TestCDNAndCompressionAccepted(t *testing.T) {
	ok := route + "  gateways: [gw]\n  backends: [{service: a}]\n"
	authed := keysAuthn + ok + "  authentication: [keys]\n"
	for name, yaml := range map[string]string{
		// no-store alone is the one Surrogate-Control an authenticated Route may send.
		"surrogate no-store on authenticated": authed + "  cdn: {surrogateControl: no-store}\n",
		// A Route's header other than the one the cdn sets.
		"cdn cache-control and route header":    ok + "  headers:\n    response:\n      set: {X-Frame-Options: DENY}\n  cdn: {cacheControl: \"max-age=60\"}\n",
		"cdn surrogate and route header":        ok + "  headers:\n    response:\n      add: {X-Frame-Options: DENY}\n  cdn: {surrogateControl: \"max-age=60\"}\n",
		"cdn surrogate and route cache-control": ok + "  headers:\n    response:\n      set: {Cache-Control: no-cache}\n  cdn: {surrogateControl: \"max-age=60\"}\n",
		"cdn cache-control and route surrogate": ok + "  headers:\n    response:\n      set: {Surrogate-Control: no-store}\n  cdn: {cacheControl: \"max-age=60\"}\n",
		// Seconds at both ends, and a Route turning the Gateway's cdn off.
		"cdn max-age 0":      ok + "  cdn: {cacheControl: \"no-cache, max-age=0\"}\n",
		"cdn max-age a year": ok + "  cdn: {cacheControl: \"max-age=31536000\"}\n",
		"cdn disabled alone": ok + "  cdn: {disabled: true}\n",
		// Compression at its upper bound, with its own media types.
		"gateway compression bounds":  gwDefaults("    compression: {minBytes: 1073741824, contentTypes: [application/json, text/html]}\n"),
		"gateway compression min one": gwDefaults("    compression: {minBytes: 1}\n"),
	} {
		s := Load(testFS(t, map[string]string{"r.yaml": yaml}), nil)
		if len(s.Rejected) != 0 {
			t.Errorf("%s: rejected: %q", name, s.Errors())
		}
	}
}

// TestCDNSharedWithPerConsumerCache: a Route cached per consumer by
// gatehouse may still let a CDN in front share its answers when its cdn
// says private: false; only the private Cache-Control a per-consumer cache
// implies is refused.
func TestCDNSharedWithPerConsumerCache(t *testing.T) {
	authed := keysAuthn + route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [keys]\n"
	runCleanCases(t, []cleanCase{
		{"per-consumer cache and a shared cdn", authed + "  cache: {private: false}\n  cdn: {cacheControl: \"max-age=60\", private: false}\n", nil, nil},
	})
}
