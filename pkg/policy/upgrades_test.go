package policy

import (
	"slices"
	"strings"
	"testing"
)

// TestUpgradesResolved: websocket by default, none for gRPC-only Routes,
// a Gateway's default list, a Route's own list over it, websocket: false,
// and CONNECT only where a Route lists it.
func TestUpgradesResolved(t *testing.T) {
	s := Load(testFS(t, map[string]string{"u.yaml": `kind: Gateway
name: strict
spec:
  listeners: [{name: http, port: 9090, protocol: HTTP}]
  defaults: {upgrades: [spdy/3.1]}
---
kind: Service
name: rpc
spec:
  protocol: GRPC
  discovery: {static: [{address: 127.0.0.1, port: 9002}]}
---
kind: Route
name: plain
spec: {gateways: [gw], backends: [{service: a}]}
---
kind: Route
name: grpc
spec: {gateways: [gw], backends: [{service: rpc}]}
---
kind: Route
name: by-default
spec: {gateways: [strict], backends: [{service: a}]}
---
kind: Route
name: own
spec: {gateways: [strict], upgrades: [websocket], backends: [{service: a}]}
---
kind: Route
name: none
spec: {gateways: [gw], upgrades: [], backends: [{service: a}]}
---
kind: Route
name: no-ws
spec: {gateways: [gw], websocket: false, backends: [{service: a}]}
---
kind: Route
name: tunnel
spec: {gateways: [gw], hosts: [db.example.com], upgrades: [CONNECT], backends: [{service: a}]}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, want := range map[string][]string{
		"plain": {UpgradeWebSocket}, "grpc": nil, "by-default": {"spdy/3.1"}, "own": {UpgradeWebSocket},
		"none": nil, "no-ws": nil, "tunnel": {UpgradeCONNECT},
	} {
		r := s.Routes[name]
		if got := r.Upgrades(s.Services); !slices.Equal(got, want) {
			t.Errorf("%s: Upgrades = %v, want %v", name, got, want)
		}
		if r.Tunnels() != (name == "tunnel") {
			t.Errorf("%s: Tunnels = %v", name, r.Tunnels())
		}
	}
	if !s.Routes["tunnel"].IsStreaming(s.Services) {
		t.Error("a CONNECT tunnel must get no route timeout")
	}
}

// fwGateway is lines 1-10: Gateway g with the default Firewall crs.
const fwGateway = "kind: Gateway\nname: g\nspec:\n  listeners: [{name: http, port: 9191, protocol: HTTP}]\n  defaults: {firewall: crs}\n---\nkind: Firewall\nname: crs\nspec: {paranoiaLevel: 1}\n---\n"

func TestBadUpgrades(t *testing.T) {
	const b = route + "  gateways: [gw]\n  backends: [{service: a}]\n"
	const tunnel = route + "  gateways: [gw]\n  backends: [{service: a}]\n  upgrades: [CONNECT]\n"
	runBadCases(t, []badCase{
		{"not a token", b + "  upgrades: [\"web socket\"]\n", 6, "Route/r", "spec.upgrades[0]", `"web socket" is not an HTTP upgrade token`},
		{"empty upgrade", b + "  upgrades: [\"\"]\n", 6, "Route/r", "spec.upgrades[0]", `empty; name an upgrade`},
		{"upgrade past 64 characters", b + "  upgrades: [" + strings.Repeat("u", 65) + "]\n", 6, "Route/r", "spec.upgrades[0]", `is not an HTTP upgrade token (letters, digits and !#$%&'*+-.^_` + "`" + `|~, at most 64)`},
		{"duplicate", b + "  upgrades: [websocket, WebSocket]\n", 6, "Route/r", "spec.upgrades[1]", `duplicate upgrade "WebSocket"`},
		{"h2c", b + "  upgrades: [h2c]\n", 6, "Route/r", "spec.upgrades[0]", `"h2c" cannot be accepted`},
		{"connect-udp", b + "  upgrades: [CONNECT-UDP]\n", 6, "Route/r", "spec.upgrades[0]", `needs HTTP/3`},
		{"lower-case connect", b + "  upgrades: [connect]\n", 6, "Route/r", "spec.upgrades[0]", `spell the method CONNECT`},
		{"websocket and upgrades", b + "  websocket: true\n  upgrades: [websocket]\n", 7, "Route/r", "spec.upgrades", `set one of websocket and upgrades`},
		{"CONNECT with another upgrade", route + "  gateways: [gw]\n  backends: [{service: a}]\n  upgrades: [CONNECT, websocket]\n",
			6, "Route/r", "spec.upgrades", `CONNECT must be the Route's only upgrade`},
		{"CONNECT with a path", tunnel + "  match: {path: {prefix: /x}}\n", 7, "Route/r", "spec.match.path", `does not apply to a CONNECT Route: CONNECT requests carry no path`},
		{"CONNECT with methods", tunnel + "  match: {methods: [GET]}\n", 7, "Route/r", "spec.match.methods", `does not apply to a CONNECT Route`},
		{"CONNECT with a rewrite", tunnel + "  rewrite: {host: b.example.com}\n", 7, "Route/r", "spec.rewrite", `does not apply to a CONNECT Route`},
		{"CONNECT with a timeout", tunnel + "  timeout: 5s\n", 7, "Route/r", "spec.timeout", `does not apply to a CONNECT Route`},
		{"CONNECT with validation", tunnel + "  validation: {openapi: petstore.yaml}\n", 7, "Route/r", "spec.validation", `the tunnel carries bytes, not HTTP requests`},
		{"CONNECT with a firewall", tunnel + "  firewall: crs\n", 7, "Route/r", "spec.firewall", `a CONNECT tunnel carries bytes the WAF cannot inspect`},
		{"CONNECT with a Transformation of its own", tunnel + "  transformation: x\n", 7, "Route/r", "spec.transformation", `does not apply to a CONNECT Route`},
		// transformation: none lifts only the rule on transformation.
		{"CONNECT with transformation none and a rewrite", tunnel + "  transformation: none\n  rewrite: {host: b.example.com}\n", 8, "Route/r", "spec.rewrite", `does not apply to a CONNECT Route`},
		// Lines 1-10: a Gateway whose default Firewall would buffer the tunnel;
		// the Route names no firewall, so the error is on its spec (line 13).
		{"CONNECT under a Gateway's default Firewall", fwGateway + route + "  gateways: [g]\n  backends: [{service: a}]\n  upgrades: [CONNECT]\n",
			13, "Route/r", "spec.firewall", `Gateway/g's default Firewall "crs" would apply to this CONNECT Route, whose tunnel carries bytes the WAF cannot inspect as HTTP; set firewall: none`},
		{"CONNECT to a gRPC Service", "kind: Service\nname: rpc\nspec:\n  protocol: GRPC\n  discovery: {static: [{address: 127.0.0.1, port: 9}]}\n---\n" +
			route + "  gateways: [gw]\n  backends: [{service: rpc}]\n  upgrades: [CONNECT]\n", 11, "Route/r", "spec.backends[0].service", `speaks gRPC; a CONNECT tunnel needs`},
		{"CONNECT as a Gateway default", "kind: Gateway\nname: g\nspec:\n  listeners: [{name: http, port: 9191, protocol: HTTP}]\n  defaults: {upgrades: [CONNECT]}\n",
			5, "Gateway/g", "spec.defaults.upgrades[0]", `CONNECT cannot be a Gateway default`},
		{"Gateways disagree", "kind: Gateway\nname: g\nspec:\n  listeners: [{name: http, port: 9191, protocol: HTTP}]\n  defaults: {upgrades: []}\n---\n" +
			route + "  gateways: [gw, g]\n  backends: [{service: a}]\n", 10, "Route/r", "spec.gateways", `have different default upgrades; give the Route its own upgrades`},
	})
}

// TestBodyTransformationTakesNoUpgrade: a Route whose Transformation
// reshapes a body gets no default upgrade, and one that lists an upgrade
// (or websocket: true) is refused at the field; a header-only
// Transformation keeps the default websocket.
func TestBodyTransformationTakesNoUpgrade(t *testing.T) {
	const x = "kind: Transformation\nname: x\nspec:\n  request:\n    body:\n      ops: [{remove: secret}]\n---\n"
	s := Load(testFS(t, map[string]string{"u.yaml": x + `kind: Transformation
name: h
spec:
  request:
    setHeaders: {x-a: {literal: b}}
---
kind: Route
name: body
spec: {gateways: [gw], transformation: x, backends: [{service: a}]}
---
kind: Route
name: headers
spec: {gateways: [gw], transformation: h, backends: [{service: a}]}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := s.Routes["body"].Upgrades(s.Services); got != nil {
		t.Errorf("body-transformed Route: Upgrades = %v, want none", got)
	}
	if got := s.Routes["headers"].Upgrades(s.Services); !slices.Equal(got, []string{UpgradeWebSocket}) {
		t.Errorf("header-transformed Route: Upgrades = %v, want websocket", got)
	}
	const b = route + "  gateways: [gw]\n  backends: [{service: a}]\n  transformation: x\n"
	runBadCases(t, []badCase{
		{"upgrades and a body transformation", x + b + "  upgrades: [websocket]\n", 14, "Route/r", "spec.upgrades", `reshapes bodies, which an upgraded stream (websocket) does not have`},
		{"websocket and a body transformation", x + b + "  websocket: true\n", 14, "Route/r", "spec.websocket", `reshapes bodies, which a WebSocket stream does not have`},
	})
}

// TestDefaultBodyTransformationTakesNoUpgrade: a Gateway-default
// Transformation that reshapes a body counts as the Route's own: no
// default upgrade, and listed ones refused naming the default;
// transformation: none gives the default websocket back.
func TestDefaultBodyTransformationTakesNoUpgrade(t *testing.T) {
	const gx = `kind: Gateway
name: xg
spec:
  listeners: [{name: http, port: 9292, protocol: HTTP}]
  defaults: {transformation: x}
---
kind: Transformation
name: x
spec:
  request:
    body:
      ops: [{remove: secret}]
---
`
	s := Load(testFS(t, map[string]string{"u.yaml": gx + `kind: Route
name: defaulted
spec: {gateways: [xg], backends: [{service: a}]}
---
kind: Route
name: opted-out
spec: {gateways: [xg], transformation: none, backends: [{service: a}]}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := s.Routes["defaulted"].Upgrades(s.Services); got != nil {
		t.Errorf("Route under a default body Transformation: Upgrades = %v, want none", got)
	}
	if got := s.Routes["opted-out"].Upgrades(s.Services); !slices.Equal(got, []string{UpgradeWebSocket}) {
		t.Errorf("Route opted out of the default: Upgrades = %v, want websocket", got)
	}
	runBadCases(t, []badCase{
		{"upgrades under a default body transformation", gx + route + "  gateways: [xg]\n  backends: [{service: a}]\n  upgrades: [websocket]\n",
			19, "Route/r", "spec.upgrades", `Transformation "x" (Gateway xg's default) reshapes bodies`},
	})
}

// TestInspectedRouteTakesNoDefaultUpgrade: a Route the WAF (its own or
// its Gateway's default) or validation (its own or its Service's)
// inspects accepts only upgrades it lists; the Gateway's default and the
// built-in websocket do not apply (a Service that ignores Upgrade would
// read the bytes after the handshake as requests nobody inspected).
// firewall: none over the Gateway default gives the default back.
func TestInspectedRouteTakesNoDefaultUpgrade(t *testing.T) {
	s := Load(testFS(t, map[string]string{"u.yaml": `kind: Gateway
name: fw
spec:
  listeners: [{name: http, port: 9090, protocol: HTTP}]
  defaults: {firewall: crs, upgrades: [websocket]}
---
kind: Firewall
name: crs
spec: {paranoiaLevel: 1}
---
kind: Route
name: gw-default
spec: {gateways: [fw], backends: [{service: a}]}
---
kind: Route
name: opted-out
spec: {gateways: [fw], firewall: none, backends: [{service: a}]}
---
kind: Route
name: own-firewall
spec: {gateways: [gw], firewall: crs, backends: [{service: a}]}
---
kind: Route
name: listed
spec: {gateways: [gw], firewall: crs, upgrades: [websocket], backends: [{service: a}]}
---
kind: Route
name: websocket-true
spec: {gateways: [fw], websocket: true, backends: [{service: a}]}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, want := range map[string][]string{
		"gw-default": nil, "opted-out": {UpgradeWebSocket}, "own-firewall": nil,
		"listed": {UpgradeWebSocket}, "websocket-true": {UpgradeWebSocket},
	} {
		if got := s.Routes[name].Upgrades(s.Services); !slices.Equal(got, want) {
			t.Errorf("%s: Upgrades = %v, want %v", name, got, want)
		}
	}
}

// TestUpgradeEdgesLoad: a CONNECT Route turning a Gateway default off
// (transformation: none, firewall: none) loads; Gateways with equal
// default upgrades agree.
func TestUpgradeEdgesLoad(t *testing.T) {
	const tunnel = "kind: Route\nname: r\nspec:\n  backends: [{service: a}]\n  upgrades: [CONNECT]\n"
	runCleanCases(t, []cleanCase{
		{"CONNECT with transformation none", tunnel + "  gateways: [gw]\n  transformation: none\n", nil, nil},
		// Every end of httpToken's character ranges, and the first of its
		// symbols, at the longest name accepted.
		{"upgrade tokens at their edges", "kind: Route\nname: r\nspec:\n  gateways: [gw]\n  backends: [{service: a}]\n  upgrades: [\"az.AZ.09!/1\", " + strings.Repeat("u", 64) + "]\n",
			func(t *testing.T, s *Snapshot) {
				if got := s.Routes["r"].Spec.Upgrades; got == nil || len(*got) != 2 {
					t.Errorf("upgrades %v", got)
				}
			}, nil},
		{"CONNECT with firewall none under a Gateway default", fwGateway + tunnel + "  gateways: [g]\n  firewall: none\n", nil, nil},
		{"Gateways with the same default upgrades", "kind: Gateway\nname: g1\nspec:\n  listeners: [{name: http, port: 9191, protocol: HTTP}]\n  defaults: {upgrades: [websocket, Upgrade-Test]}\n---\n" +
			"kind: Gateway\nname: g2\nspec:\n  listeners: [{name: http, port: 9192, protocol: HTTP}]\n  defaults: {upgrades: [WebSocket, upgrade-test]}\n---\n" +
			"kind: Route\nname: r\nspec: {gateways: [g1, g2], backends: [{service: a}]}\n",
			func(t *testing.T, s *Snapshot) {
				if got := s.Routes["r"].Upgrades(s.Services); len(got) != 2 {
					t.Errorf("Upgrades = %v", got)
				}
			}, nil},
	})
}

// TestBodyDefaultOnSecondGatewayTakesNoUpgrade: of a Route's Gateways,
// the one whose default Transformation reshapes a body decides, even when
// an earlier one's default changes only headers.
func TestBodyDefaultOnSecondGatewayTakesNoUpgrade(t *testing.T) {
	const two = `kind: Gateway
name: hg
spec:
  listeners: [{name: http, port: 9291, protocol: HTTP}]
  defaults: {transformation: h}
---
kind: Gateway
name: xg
spec:
  listeners: [{name: http, port: 9292, protocol: HTTP}]
  defaults: {transformation: x}
---
kind: Transformation
name: h
spec:
  request:
    setHeaders: {x-a: {literal: b}}
---
kind: Transformation
name: x
spec:
  request:
    body:
      ops: [{remove: secret}]
---
`
	runBadCases(t, []badCase{
		{"upgrades under the second Gateway's body default", two + route + "  gateways: [hg, xg]\n  backends: [{service: a}]\n  upgrades: [websocket]\n",
			31, "Route/r", "spec.upgrades", `Transformation "x" (Gateway xg's default) reshapes bodies`},
	})
}

// TestValidatedRouteTakesNoDefaultUpgrade: request validation, the Route's
// own or its Service's, makes a Route inspected like the WAF does: no
// default upgrade (the bytes after the handshake would reach the Service
// unvalidated); a Route that turns validation off gets it back.
func TestValidatedRouteTakesNoDefaultUpgrade(t *testing.T) {
	s := Load(testFS(t, map[string]string{
		"api/petstore.yaml": petstoreDoc(t),
		"u.yaml": `kind: Service
name: v
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9007}]}
  validation: {openapi: api/petstore.yaml}
---
kind: Route
name: own
spec: {gateways: [gw], backends: [{service: a}], validation: {openapi: api/petstore.yaml}}
---
kind: Route
name: service
spec: {gateways: [gw], backends: [{service: v}]}
---
kind: Route
name: off
spec: {gateways: [gw], backends: [{service: v}], validation: {mode: off}}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, want := range map[string][]string{"own": nil, "service": nil, "off": {UpgradeWebSocket}} {
		if got := s.Routes[name].Upgrades(s.Services); !slices.Equal(got, want) {
			t.Errorf("%s: Upgrades = %v, want %v", name, got, want)
		}
	}
}
