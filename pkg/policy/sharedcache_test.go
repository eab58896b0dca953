package policy

import (
	"strings"
	"testing"
)

// TestBadSharedCacheHeaders: every way around the cdn block's rule for an
// authenticated Route (RFC 9111 3.5) through the other ways gatehouse
// writes response headers: the Route's own headers.response and the
// Transformation that applies to it, with header name and directive case
// and whitespace variants, public hidden in a list, the CDN-targeted
// headers (Surrogate-Control, RFC 9213 CDN-Cache-Control, the vendors'),
// a Route authenticated by its Gateway's default and a Gateway-default
// Transformation. Each names file, line, object and field.
func TestBadSharedCacheHeaders(t *testing.T) {
	authed := keysAuthn + route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [keys]\n" // lines 1-11
	resp := func(verb, k, v string) string {
		return authed + "  headers:\n    response:\n      " + verb + ": {" + k + ": " + v + "}\n" // error on line 14
	}
	field := "spec.headers.response.set."
	cases := []badCase{
		{"header public", resp("set", "Cache-Control", `"public, max-age=60"`), 14, "Route/r", field + "Cache-Control", `says public, which lets a cache in front`},
		{"header add public", resp("add", "cache-control", "public"), 14, "Route/r", "spec.headers.response.add.cache-control", `says public`},
		{"header name case", resp("set", "cAcHe-CoNtRoL", "public"), 14, "Route/r", field + "cAcHe-CoNtRoL", `says public`},
		{"directive case", resp("set", "Cache-Control", "PUBLIC"), 14, "Route/r", field + "Cache-Control", `says public`},
		{"directive whitespace", resp("set", "Cache-Control", `"max-age=60 ,\t Public\t"`), 14, "Route/r", field + "Cache-Control", `says public`},
		{"public hidden in a list", resp("set", "Cache-Control", `"max-age=60, no-transform, immutable, public, stale-if-error=5"`), 14, "Route/r", field + "Cache-Control", `says public`},
		{"header s-maxage", resp("set", "Cache-Control", `"private, s-maxage=60"`), 14, "Route/r", field + "Cache-Control", `says s-maxage`},
		{"header must-revalidate", resp("set", "Cache-Control", `"max-age=60, must-revalidate"`), 14, "Route/r", field + "Cache-Control", `says must-revalidate`},
		{"empty list element", resp("set", "Cache-Control", `"private,,public"`), 14, "Route/r", field + "Cache-Control", `is not a list of known directives`},
		{"unknown directive hides nothing", resp("set", "Cache-Control", `"private; public"`), 14, "Route/r", field + "Cache-Control", `is not a list of known directives`},
		{"quoted field list", resp("set", "Cache-Control", `"private=\"x\", public"`), 14, "Route/r", field + "Cache-Control", `is not a list of known directives`},
		{"surrogate max-age", resp("set", "Surrogate-Control", `"max-age=3600"`), 14, "Route/r", field + "Surrogate-Control", `Surrogate-Control "max-age=3600" is read by a cache in front`},
		{"cdn-cache-control", resp("set", "CDN-Cache-Control", `"max-age=60"`), 14, "Route/r", field + "CDN-Cache-Control", `Cdn-Cache-Control "max-age=60" is read by a cache in front`},
		{"cdn-cache-control public", resp("add", "cdn-cache-control", "public"), 14, "Route/r", "spec.headers.response.add.cdn-cache-control", `is read by a cache in front`},
		{"cloudflare", resp("set", "Cloudflare-CDN-Cache-Control", `"max-age=60"`), 14, "Route/r", field + "Cloudflare-CDN-Cache-Control", `is read by a cache in front`},
		{"vercel", resp("set", "Vercel-CDN-Cache-Control", `"s-maxage=60"`), 14, "Route/r", field + "Vercel-CDN-Cache-Control", `is read by a cache in front`},
		{"akamai edge-control", resp("set", "Edge-Control", `"!no-store, max-age=60"`), 14, "Route/r", field + "Edge-Control", `is read by a cache in front`},
		{"surrogate private is not a surrogate directive", resp("set", "Surrogate-Control", "private"), 14, "Route/r", field + "Surrogate-Control", `only no-store is allowed`},
		{"cdn private true is not the escape", authed + "  cdn: {cacheControl: no-cache, private: true}\n  headers:\n    response:\n      set: {Cache-Control: public}\n", 15, "Route/r", field + "Cache-Control", `says public`},
		{"private true does not share", authed + "  cdn: {surrogateControl: no-store, private: true}\n  headers:\n    response:\n      set: {CDN-Cache-Control: public}\n", 15, "Route/r", field + "CDN-Cache-Control", `is read by a cache in front`},
		// A Route authenticated by its Gateway's default, not by itself.
		{"gateway default authentication", keysAuthn + "kind: Gateway\nname: g2\nspec:\n  listeners: [{name: http, port: 8081, protocol: HTTP}]\n  defaults: {authentication: [keys]}\n---\n" +
			route + "  gateways: [g2]\n  backends: [{service: a}]\n  headers:\n    response:\n      set: {Cache-Control: \"public, max-age=60\"}\n", 19, "Route/r", field + "Cache-Control", `on Gateway/g2 the Route requires authentication`},
		// The Route's Transformation (lines 6-12), then the Route (13-19).
		{"transformation public", keysAuthn + xform + "  response:\n    setHeaders:\n      Cache-Control: {literal: \"max-age=60, PUBLIC\"}\n---\n" +
			route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [keys]\n  transformation: x\n", 19, "Route/r", "spec.transformation", `its Transformation "x" (response.setHeaders.Cache-Control): Cache-Control "max-age=60, PUBLIC" says public`},
		{"transformation cdn-cache-control", keysAuthn + xform + "  response:\n    setHeaders:\n      cdn-CACHE-control: {literal: \"max-age=60\"}\n---\n" +
			route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [keys]\n  transformation: x\n", 19, "Route/r", "spec.transformation", `is read by a cache in front`},
		{"transformation from a header", keysAuthn + xform + "  response:\n    setHeaders:\n      Cache-Control: {header: x-cache}\n---\n" +
			route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [keys]\n  transformation: x\n", 19, "Route/r", "spec.transformation", `its value cannot be checked`},
		{"transformation from a claim", keysAuthn + xform + "  response:\n    setHeaders:\n      Surrogate-Control: {claim: cc}\n---\n" +
			route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [keys]\n  transformation: x\n", 19, "Route/r", "spec.transformation", `its value cannot be checked`},
		{"transformation number literal", keysAuthn + xform + "  response:\n    setHeaders:\n      Cache-Control: {literal: 60}\n---\n" +
			route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [keys]\n  transformation: x\n", 19, "Route/r", "spec.transformation", `non-text literal`},
		// The Gateway-default Transformation on a Route authenticated by
		// the Gateway's default: Authentication 1-5, Transformation 6-12,
		// Gateway 13-18, Route 19-23 (reported on spec.gateways, line 22).
		{"gateway default transformation", keysAuthn + xform + "  response:\n    setHeaders:\n      Cache-Control: {literal: \"s-maxage=600\"}\n---\n" +
			"kind: Gateway\nname: g2\nspec:\n  listeners: [{name: http, port: 8081, protocol: HTTP}]\n  defaults: {authentication: [keys], transformation: x}\n---\n" +
			route + "  gateways: [g2]\n  backends: [{service: a}]\n", 22, "Route/r", "spec.gateways", `on Gateway/g2 the Route requires authentication and its Transformation "x"`},
		{"gateway default cdn shares every route", gwDefaults("    cdn: {cacheControl: \"public, max-age=60\", private: false}\n"), 6, "Gateway/g2", "spec.defaults.cdn.private", "only a Route's cdn can say private: false"},
		{"cdn private false alone needs a route", gwDefaults("    cdn: {private: false}\n"), 6, "Gateway/g2", "spec.defaults.cdn", "set cacheControl, surrogateControl or both"},
		{"cdn private false with override", route + "  gateways: [gw]\n  backends: [{service: a}]\n  cdn: {private: false, override: true}\n", 6, "Route/r", "spec.cdn", "set cacheControl, surrogateControl or both"},
	}
	runBadCases(t, cases)
}

// TestSharedCacheHeadersAllowed: what stays allowed: private and no-store
// answers on authenticated Routes through every path, anything on public
// Routes, and the explicit escape (private: false in the Route's cdn,
// which may then stand alone).
func TestSharedCacheHeadersAllowed(t *testing.T) {
	s := Load(testFS(t, map[string]string{"p.yaml": keysAuthn + `kind: Gateway
name: g
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
  defaults: {transformation: x}
---
kind: Transformation
name: x
spec:
  response:
    setHeaders:
      Cache-Control: {literal: "private, max-age=60"}
      CDN-Cache-Control: {literal: "no-store"}
---
kind: Transformation
name: pub
spec:
  response:
    setHeaders:
      Cache-Control: {literal: "public, s-maxage=60"}
      X-Cache: {header: x-upstream}
---
kind: Route
name: private
spec:
  gateways: [g]
  backends: [{service: a}]
  match: {path: {prefix: /a}}
  authentication: [keys]
  headers:
    response:
      set: {Cache-Control: "private, no-cache", Surrogate-Control: no-store, Cloudflare-CDN-Cache-Control: "private"}
      add: {X-Other: public}
---
kind: Route
name: public
spec:
  gateways: [g]
  backends: [{service: a}]
  match: {path: {prefix: /b}}
  transformation: pub
  headers:
    response:
      set: {Cache-Control: "public, s-maxage=60", CDN-Cache-Control: "max-age=600"}
---
kind: Route
name: shared
spec:
  gateways: [g]
  backends: [{service: a}]
  match: {path: {prefix: /c}}
  authentication: [keys]
  transformation: pub
  cdn: {private: false}
  headers:
    response:
      set: {Surrogate-Control: "max-age=600", CDN-Cache-Control: "public, max-age=60"}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors:\n%s", strings.Join(errs, "\n"))
	}
	g := s.Gateways["g"]
	if r := s.Routes["shared"]; !r.CDNShared(g) {
		t.Error("shared: private: false alone does not share")
	} else if cc, sc := r.CDNHeaders(g); cc != "" || sc != "" {
		t.Errorf("shared: private: false alone sets %q, %q", cc, sc)
	}
	if s.Routes["private"].CDNShared(g) {
		t.Error("private: an authenticated Route without private: false is shared")
	}
}

// TestSharedCacheProblem: the value rule alone, per header.
func TestSharedCacheProblem(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		bad         bool
	}{
		{"Cache-Control", "private, max-age=60", false},
		{"Cache-Control", "no-store", false},
		{"Cache-Control", "no-cache, proxy-revalidate", false},
		{"Cache-Control", " PuBlIc ", true},
		{"Cache-Control", "s-maxage=0", true},
		{"Cache-Control", "Must-Revalidate", true},
		{"Cache-Control", "", true},
		{"cache-control", "private, public", true},
		{"Surrogate-Control", "no-store", false},
		{"Surrogate-Control", "NO-STORE", false},
		{"Surrogate-Control", "no-store-remote", true},
		{"Surrogate-Control", "private", true},
		{"CDN-Cache-Control", "private", false},
		{"CDN-Cache-Control", "no-store, private", false},
		{"CDN-Cache-Control", "no-cache", true},
		{"CDN-Cache-Control", "", true},
		{"Akamai-Cache-Control", "max-age=1", true},
		{"Edge-Control", "no-store", false},
		{"Edge-Control", "private", true},
	} {
		if got := SharedCacheProblem(tc.name, tc.value) != ""; got != tc.bad {
			t.Errorf("%s: %q: refused %v, want %v (%s)", tc.name, tc.value, got, tc.bad, SharedCacheProblem(tc.name, tc.value))
		}
	}
	for _, n := range []string{"Cache-Control", "SURROGATE-CONTROL", "cdn-cache-control", "Cloudflare-Cdn-Cache-Control", "vercel-cdn-cache-control", "edge-control", "akamai-cache-control"} {
		if !IsCDNHeader(n) {
			t.Errorf("%s is not a CDN header", n)
		}
	}
	for _, n := range []string{"X-Cache-Control", "Cache-Control-X", "Expires", "Vary"} {
		if IsCDNHeader(n) {
			t.Errorf("%s is a CDN header", n)
		}
	}
}

// TestCDNHeaderNames: the list the translator makes no-store on local
// replies holds every header IsCDNHeader accepts, once each, the cdn
// block's two first.
func TestCDNHeaderNames(t *testing.T) {
	names := CDNHeaderNames()
	if len(names) < 2 || names[0] != "cache-control" || names[1] != "surrogate-control" {
		t.Fatalf("names %v", names)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] || !IsCDNHeader(n) {
			t.Errorf("%q listed twice or not a CDN header: %v", n, names)
		}
		seen[n] = true
	}
	for n := range cdnTargetedHeaders {
		if !seen[n] {
			t.Errorf("%q missing from %v", n, names)
		}
	}
}
