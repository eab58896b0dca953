package policy

import (
	"strings"
	"testing"
	"testing/fstest"
)

// serviceAndKeys is the Service and the API-key Authentication the
// proxyless cases' Routes use.
const serviceAndKeys = `kind: Service
name: a
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
`

// ProxylessNotes names every protected Route a proxyless client could
// dial, per Gateway, and says whether it is withheld or served without
// its protections and because of whom.
func TestProxylessNotes(t *testing.T) {
	src := `kind: Gateway
name: open
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
  proxyless: {serveUnprotected: true}
---
kind: Gateway
name: strict
spec:
  listeners: [{name: http, port: 8081, protocol: HTTP}]
  defaults: {authentication: [keys]}
---
` + serviceAndKeys + `kind: Route
name: inherits
spec:
  gateways: [open, strict]
  hosts: [api.example.com]
  backends: [{service: a}]
---
kind: Route
name: opted-out
spec:
  gateways: [open]
  hosts: [api.example.com]
  match: {path: {prefix: /admin}}
  backends: [{service: a}]
  authentication: [keys]
  proxyless: {serveUnprotected: false}
---
kind: Route
name: own-opt-in
spec:
  gateways: [strict]
  hosts: [api.example.com]
  match: {path: {prefix: /own}}
  backends: [{service: a}]
  proxyless: {serveUnprotected: true}
---
kind: Route
name: envoy-only
spec:
  gateways: [strict]
  hosts: ["*"]
  match: {path: {prefix: /x}}
  backends: [{service: a}]
`
	snap := Load(fstest.MapFS{"p.yaml": {Data: []byte(src)}}, nil)
	if len(snap.Rejected) > 0 {
		t.Fatalf("rejected: %+v", snap.Rejected)
	}
	got := strings.Join(snap.ProxylessNotes(), "\n")
	want := strings.Join([]string{
		"Gateway/open: Route/opted-out is withheld from proxyless gRPC clients (their calls to it fail with UNAVAILABLE): they cannot enforce its authentication; set proxyless: {serveUnprotected: true} on the Route or Gateway to serve it unprotected",
		"Gateway/strict: Route/inherits is withheld from proxyless gRPC clients (their calls to it fail with UNAVAILABLE): they cannot enforce its authentication; set proxyless: {serveUnprotected: true} on the Route or Gateway to serve it unprotected",
		"Gateway/strict: Route/own-opt-in is served to proxyless gRPC clients WITHOUT its authentication (proxyless.serveUnprotected on Route/own-opt-in)",
	}, "\n")
	if got != want {
		t.Errorf("notes:\n%s\nwant:\n%s", got, want)
	}
	// inherits has no protection on open (no defaults there): no note.
	if strings.Contains(got, "Gateway/open: Route/inherits") {
		t.Error("a Route without protections on a Gateway is noted there")
	}
}

func TestIsStreaming(t *testing.T) {
	yes, no := true, false
	services := map[string]*Service{
		"g": {Spec: ServiceSpec{Protocol: ServiceGRPC}},
		"h": {Spec: ServiceSpec{Protocol: ServiceHTTP}},
	}
	for _, c := range []struct {
		name string
		spec RouteSpec
		want bool
	}{
		{"plain HTTP", RouteSpec{Backends: []Backend{{Service: "h"}}}, false},
		{"GRPC backend", RouteSpec{Backends: []Backend{{Service: "g"}}}, true},
		{"mixed backends", RouteSpec{Backends: []Backend{{Service: "g"}, {Service: "h"}}}, false},
		{"streaming", RouteSpec{Backends: []Backend{{Service: "h"}}, Streaming: true}, true},
		{"websocket", RouteSpec{Backends: []Backend{{Service: "h"}}, WebSocket: &yes}, true},
		{"websocket off", RouteSpec{Backends: []Backend{{Service: "h"}}, WebSocket: &no}, false},
		{"unknown service", RouteSpec{Backends: []Backend{{Service: "x"}}}, false},
	} {
		r := &Route{Spec: c.spec}
		if got := r.IsStreaming(services); got != c.want {
			t.Errorf("%s: IsStreaming = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestWebSocketAllowed: on by default for Routes that can be HTTP/1.1,
// off for gRPC-only ones, and as written when the Route says.
func TestWebSocketAllowed(t *testing.T) {
	yes, no := true, false
	services := map[string]*Service{
		"g": {Spec: ServiceSpec{Protocol: ServiceGRPC}},
		"h": {Spec: ServiceSpec{Protocol: ServiceHTTP}},
	}
	for _, c := range []struct {
		name string
		spec RouteSpec
		want bool
	}{
		{"HTTP default", RouteSpec{Backends: []Backend{{Service: "h"}}}, true},
		{"HTTP opted out", RouteSpec{Backends: []Backend{{Service: "h"}}, WebSocket: &no}, false},
		{"GRPC default", RouteSpec{Backends: []Backend{{Service: "g"}}}, false},
		{"GRPC asked", RouteSpec{Backends: []Backend{{Service: "g"}}, WebSocket: &yes}, true},
		{"mixed default", RouteSpec{Backends: []Backend{{Service: "g"}, {Service: "h"}}}, true},
		{"no backends", RouteSpec{}, false},
	} {
		r := &Route{Spec: c.spec}
		if got := r.WebSocketAllowed(services); got != c.want {
			t.Errorf("%s: WebSocketAllowed = %v, want %v", c.name, got, c.want)
		}
		if c.spec.WebSocket == nil && r.IsStreaming(services) && c.name != "GRPC default" {
			t.Errorf("%s: a default WebSocket made the Route streaming", c.name)
		}
	}
}

// A Gateway's proxyless.serveUnprotected serves a Route protected on it
// (here by an authentication of its own) to proxyless clients unless the
// Route says otherwise; without a Gateway, or without the opt-in, it is
// withheld. A fault limited by whenHeader gets a note (grpc-go would hit
// every call), one without it none.
func TestProxylessGatewayOptIn(t *testing.T) {
	src := `kind: Gateway
name: open
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
  proxyless: {serveUnprotected: true}
---
kind: Gateway
name: closed
spec:
  listeners: [{name: http, port: 8081, protocol: HTTP}]
---
` + serviceAndKeys + `kind: Route
name: keyed
spec:
  gateways: [open, closed]
  hosts: [api.example.com]
  backends: [{service: a}]
  authentication: [keys]
---
kind: Route
name: chaos
spec:
  gateways: [closed]
  hosts: [api.example.com]
  match: {path: {prefix: /chaos}}
  backends: [{service: a}]
  fault: {abort: {status: 503, percent: 1}, whenHeader: {name: x-chaos, present: true}}
---
kind: Route
name: always
spec:
  gateways: [closed]
  hosts: [api.example.com]
  match: {path: {prefix: /always}}
  backends: [{service: a}]
  fault: {abort: {status: 503, percent: 1}}
`
	snap := Load(fstest.MapFS{"p.yaml": {Data: []byte(src)}}, nil)
	if len(snap.Rejected) > 0 {
		t.Fatalf("rejected: %+v", snap.Rejected)
	}
	r := snap.Routes["keyed"]
	open, closed := snap.Gateways["open"], snap.Gateways["closed"]
	if !r.ServesUnprotected(open) || r.ProxylessWithheld(open, snap.Services) {
		t.Error("the Gateway's opt-in does not serve the Route")
	}
	if r.ServesUnprotected(closed) || !r.ProxylessWithheld(closed, snap.Services) || r.ServesUnprotected(nil) {
		t.Error("the Route is served unprotected without an opt-in")
	}
	notes := strings.Join(snap.ProxylessNotes(), "\n")
	if !strings.Contains(notes, "Gateway/open: Route/keyed is served to proxyless gRPC clients WITHOUT its authentication (proxyless.serveUnprotected on Gateway/open)") {
		t.Errorf("notes:\n%s", notes)
	}
	if !strings.Contains(notes, "Route/chaos's fault is not applied") || strings.Contains(notes, "Route/always's fault") {
		t.Errorf("fault notes:\n%s", notes)
	}
}
