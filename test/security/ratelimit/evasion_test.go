package security_ratelimit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

const policyYAML = `
kind: Gateway
name: edge
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: web
spec:
  discovery:
    static:
      - {address: 127.0.0.1, port: 9001}
---
kind: RateLimit
name: per-path
spec:
  limits:
    - {key: [path], requests: 3, per: minute}
---
kind: RateLimit
name: per-tenant
spec:
  limits:
    - {key: ["header:X-Tenant"], requests: 3, per: minute}
  maxHitsAddend: 4294967296   # any: TestHugeHitsAddendCannotWrapACounter
---
kind: RateLimit
name: per-tenant-and-client
spec:
  limits:
    - {key: ["header:x-tenant", "header:x-client", method], requests: 3, per: minute}
---
kind: RateLimit
name: per-ip
spec:
  limits:
    - {key: [remote_address], requests: 3, per: minute}
---
kind: RateLimit
name: per-ip-48
spec:
  limits:
    - {key: ["remote_address:v4=24,v6=48"], requests: 3, per: minute}
---
kind: Route
name: path
spec:
  gateways: [edge]
  match: {path: {prefix: /p}}
  backends: [{service: web}]
  rateLimit: per-path
---
kind: Route
name: tenant
spec:
  gateways: [edge]
  match: {path: {prefix: /t}}
  backends: [{service: web}]
  rateLimit: per-tenant
---
kind: Route
name: tenant-client
spec:
  gateways: [edge]
  match: {path: {prefix: /tc}}
  backends: [{service: web}]
  rateLimit: per-tenant-and-client
---
kind: Route
name: ip
spec:
  gateways: [edge]
  match: {path: {prefix: /ip}}
  backends: [{service: web}]
  rateLimit: per-ip
---
kind: Route
name: ip48
spec:
  gateways: [edge]
  match: {path: {prefix: /wide}}
  backends: [{service: web}]
  rateLimit: per-ip-48
`

// allowed counts the requests of reqs that the limit lets through.
func allowed(t *testing.T, g *gateway, route string, reqs []request) int {
	t.Helper()
	n := 0
	for _, r := range reqs {
		if r.remote == "" {
			r.remote = "192.0.2.10"
		}
		if g.send(t, route, r) {
			n++
		}
	}
	return n
}

// A new query string is not a new counter: ?n=i, ?api_key=..., a lone '?'.
func TestQueryStringDoesNotResetThePathCounter(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	var reqs []request
	for i := 0; i < 20; i++ {
		reqs = append(reqs, request{path: fmt.Sprintf("/p/items?n=%d", i)})
	}
	reqs = append(reqs, request{path: "/p/items?"}, request{path: "/p/items?api_key=k1"}, request{path: "/p/items"})
	if n := allowed(t, g, "path", reqs); n != 3 {
		t.Fatalf("%d of %d requests to one path with varying query strings allowed, want 3", n, len(reqs))
	}
	// Another path is another counter.
	if n := allowed(t, g, "path", []request{{path: "/p/other?x=1"}}); n != 1 {
		t.Fatal("a different path shares the counter")
	}
}

// Query-string credentials never reach the rate-limit service.
func TestQueryStringNeverReachesTheService(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	for _, d := range g.descriptors(t, g.route(t, "path"), request{path: "/p/x?api_key=SECRET&token=SECRET2", remote: "192.0.2.1"}) {
		for _, e := range d.GetEntries() {
			if strings.Contains(e.GetValue(), "SECRET") || strings.Contains(e.GetValue(), "?") {
				t.Fatalf("entry %s=%q carries the query string", e.GetKey(), e.GetValue())
			}
		}
	}
}

// The header gatehouse keys the path on cannot be set by the client, and
// never reaches the upstream.
func TestClientCannotForgeThePathHeader(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	var reqs []request
	for i := 0; i < 10; i++ {
		reqs = append(reqs, request{path: "/p/target", headers: map[string]string{wire.RateLimitPathHeader: fmt.Sprintf("/p/forged-%d", i)}})
	}
	if n := allowed(t, g, "path", reqs); n != 3 {
		t.Fatalf("%d of 10 requests with a forged %s allowed, want 3", n, wire.RateLimitPathHeader)
	}
	removed := false
	for _, h := range g.removed {
		removed = removed || h == wire.RateLimitPathHeader
	}
	if !removed {
		t.Fatalf("route tables do not remove %s before the upstream (request_headers_to_remove %v)", wire.RateLimitPathHeader, g.removed)
	}
}

// Omitting the keyed header is counted under "missing", not let through.
func TestOmittingTheHeaderDoesNotEscape(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	var bare []request
	for i := 0; i < 10; i++ {
		bare = append(bare, request{path: "/t"})
	}
	if n := allowed(t, g, "tenant", bare); n != 3 {
		t.Fatalf("%d of 10 requests without X-Tenant allowed, want 3", n)
	}
	// A tenant that sends the header has its own counter.
	var acme []request
	for i := 0; i < 5; i++ {
		acme = append(acme, request{path: "/t", headers: map[string]string{"x-tenant": "acme"}})
	}
	if n := allowed(t, g, "tenant", acme); n != 3 {
		t.Fatalf("%d of 5 requests of tenant acme allowed, want 3", n)
	}
}

// With several header keys, every combination of present and absent
// headers is counted, each under its own values.
func TestOmittingAnyOfSeveralHeadersDoesNotEscape(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	for _, hs := range []map[string]string{
		{},
		{"x-tenant": "acme"},
		{"x-client": "c1"},
		{"x-tenant": "acme", "x-client": "c1"},
	} {
		var reqs []request
		for i := 0; i < 6; i++ {
			reqs = append(reqs, request{path: "/tc", headers: hs})
		}
		if n := allowed(t, g, "tenant-client", reqs); n != 3 {
			t.Fatalf("headers %v: %d of 6 allowed, want 3", hs, n)
		}
	}
}

// IPv6 clients hold a /64: rotating addresses inside it is one counter.
func TestIPv6RotationInsideA64DoesNotEscape(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	var reqs []request
	for i := 1; i <= 50; i++ {
		reqs = append(reqs, request{path: "/ip", remote: fmt.Sprintf("2001:db8:1:2:%x::%x", i, i*7)})
	}
	if n := allowed(t, g, "ip", reqs); n != 3 {
		t.Fatalf("%d of 50 requests from one IPv6 /64 allowed, want 3", n)
	}
	// The next /64 is another client; IPv4 addresses stay one counter each.
	if n := allowed(t, g, "ip", []request{{path: "/ip", remote: "2001:db8:1:3::1"}, {path: "/ip", remote: "192.0.2.1"}, {path: "/ip", remote: "192.0.2.2"}}); n != 3 {
		t.Fatalf("%d of 3 requests from distinct clients allowed, want 3", n)
	}
}

// remote_address:v4=24,v6=48 widens the masks.
func TestWiderMasksFromThePolicy(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	var v6, v4 []request
	for i := 1; i <= 10; i++ {
		v6 = append(v6, request{path: "/wide", remote: fmt.Sprintf("2001:db8:1:%x::1", i)})
		v4 = append(v4, request{path: "/wide", remote: fmt.Sprintf("198.51.100.%d", i)})
	}
	if n := allowed(t, g, "ip48", v6); n != 3 {
		t.Fatalf("%d of 10 requests from one IPv6 /48 allowed, want 3", n)
	}
	if n := allowed(t, g, "ip48", v4); n != 3 {
		t.Fatalf("%d of 10 requests from one IPv4 /24 allowed, want 3", n)
	}
}

// The access log writes the path without its query string.
func TestAccessLogHasNoQueryString(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	if !strings.Contains(g.accessLog, "%PATH(NQ)%") {
		t.Fatalf("access log does not use %%PATH(NQ)%%: %s", g.accessLog)
	}
	for _, bad := range []string{"REQ(:PATH)", "?:PATH)", "PATH(WQ", "%REQ(:path)"} {
		if strings.Contains(g.accessLog, bad) {
			t.Fatalf("access log writes the path with its query (%s): %s", bad, g.accessLog)
		}
	}
}
