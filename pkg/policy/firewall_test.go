package policy

import (
	"strings"
	"testing"
)

// Lines 1-3 of the Firewall cases below.
const firewall = "kind: Firewall\nname: f\nspec:\n"

// TestBadFirewall covers the validation rules of Firewall and the
// references to it: every bad value names file, line, object and field.
func TestBadFirewall(t *testing.T) {
	runBadCases(t, []badCase{
		{"firewall paranoia zero", firewall + "  paranoiaLevel: 0\n",
			4, "Firewall/f", "spec.paranoiaLevel", `0 is not a paranoia level; 1 (default) to 4`},
		{"firewall paranoia five", firewall + "  paranoiaLevel: 5\n",
			4, "Firewall/f", "spec.paranoiaLevel", `5 is not a paranoia level`},
		{"firewall paranoia string", firewall + "  paranoiaLevel: high\n",
			4, "Firewall/f", "spec.paranoiaLevel", `expected an integer`},
		{"firewall inbound zero", firewall + "  anomalyThresholds: {inbound: 0}\n",
			4, "Firewall/f", "spec.anomalyThresholds.inbound", `0 is out of range; 1..10000 (CRS's default is 5)`},
		{"firewall outbound without responses", firewall + "  anomalyThresholds:\n    inbound: 10\n    outbound: 8\n",
			6, "Firewall/f", "spec.anomalyThresholds.outbound", `only applies to responses; set inspectResponse: true`},
		{"firewall unknown rule id", firewall + "  exclusions:\n    ids: [942100, 4242]\n",
			5, "Firewall/f", "spec.exclusions.ids[1]", `4242 is not a rule of the OWASP Core Rule Set gatehouse embeds`},
		{"firewall duplicate rule id", firewall + "  exclusions:\n    ids: [942100, 942100]\n",
			5, "Firewall/f", "spec.exclusions.ids[1]", `942100 is listed twice`},
		{"firewall unknown field", firewall + "  exclusions:\n    rules: [942100]\n",
			5, "Firewall/f", "spec.exclusions.rules", `unknown field`},
		// A tag or path lands in SecLang: an attacker with write access to
		// one policy file must not add directives (turn the engine off).
		{"firewall tag injection", firewall + "  exclusions:\n    tags: [\"attack-sqli\\nSecRuleEngine Off\"]\n",
			5, "Firewall/f", "spec.exclusions.tags[0]", `is not a CRS tag`},
		{"firewall path quote injection", firewall + "  exclusions:\n    paths:\n      - prefix: '/a\" \"id:1,phase:1,ctl:ruleEngine=Off'\n        ids: [942100]\n",
			6, "Firewall/f", "spec.exclusions.paths[0].prefix", `is not a URL path`},
		{"firewall path newline injection", firewall + "  exclusions:\n    paths:\n      - prefix: \"/a\\nSecRuleEngine Off\"\n        ids: [942100]\n",
			6, "Firewall/f", "spec.exclusions.paths[0].prefix", `is not a URL path`},
		{"firewall path relative", firewall + "  exclusions:\n    paths:\n      - {prefix: upload, ids: [942100]}\n",
			6, "Firewall/f", "spec.exclusions.paths[0].prefix", `"upload" is not a URL path`},
		{"firewall path nothing excluded", firewall + "  exclusions:\n    paths:\n      - prefix: /upload\n",
			6, "Firewall/f", "spec.exclusions.paths[0]", `names no rule id and no tag`},
		{"firewall path unknown id", firewall + "  exclusions:\n    paths:\n      - {prefix: /upload, ids: [1]}\n",
			6, "Firewall/f", "spec.exclusions.paths[0].ids[0]", `1 is not a rule of the OWASP Core Rule Set`},
		{"firewall path twice", firewall + "  exclusions:\n    paths:\n      - {prefix: /upload, ids: [942100]}\n      - {prefix: /upload, tags: [attack-xss]}\n",
			7, "Firewall/f", "spec.exclusions.paths[1].prefix", `"/upload" is already excluded by spec.exclusions.paths[0]`},
		{"firewall request body zero", firewall + "  limits: {requestBodyKB: 0}\n",
			4, "Firewall/f", "spec.limits.requestBodyKB", `0 is out of range; 1..16384`},
		{"firewall request body huge", firewall + "  limits: {requestBodyKB: 1048576}\n",
			4, "Firewall/f", "spec.limits.requestBodyKB", `1048576 is out of range; 1..16384`},
		{"firewall inbound too high", firewall + "  anomalyThresholds: {inbound: 10001}\n",
			4, "Firewall/f", "spec.anomalyThresholds.inbound", `10001 is out of range; 1..10000`},
		{"firewall outbound zero", firewall + "  inspectResponse: true\n  anomalyThresholds: {outbound: 0}\n",
			5, "Firewall/f", "spec.anomalyThresholds.outbound", `0 is out of range; 1..10000 (CRS's default is 4)`},
		{"firewall response body zero", firewall + "  inspectResponse: true\n  limits: {responseBodyKB: 0}\n",
			5, "Firewall/f", "spec.limits.responseBodyKB", `0 is out of range; 1..16384`},
		{"firewall response body huge", firewall + "  inspectResponse: true\n  limits: {responseBodyKB: 16385}\n",
			5, "Firewall/f", "spec.limits.responseBodyKB", `16385 is out of range; 1..16384`},
		// Contradictory: a response limit for responses that are not inspected.
		{"firewall response limit without inspection", firewall + "  limits: {responseBodyKB: 64}\n",
			4, "Firewall/f", "spec.limits.responseBodyKB", `responses are not inspected; set inspectResponse: true`},
		{"firewall bad failure mode", firewall + "  failureMode: open\n",
			4, "Firewall/f", "spec.failureMode", `"open" is not a failure mode; one of deny`},
		{"firewall named none", "kind: Firewall\nname: none\nspec: {}\n",
			2, "Firewall/none", "name", `"none" is reserved: firewall: none turns the firewall off`},

		// References
		{"route firewall missing", route + "  gateways: [gw]\n  backends: [{service: a}]\n  firewall: nope\n",
			6, "Route/r", "spec.firewall", `Firewall "nope" does not exist`},
		{"route firewall rejected", firewall + "  paranoiaLevel: 9\n---\n" + route + "  gateways: [gw]\n  backends: [{service: a}]\n  firewall: f\n",
			11, "Route/r", "spec.firewall", `Firewall "f" was rejected (see its errors)`},
		{"route firewall empty", route + "  gateways: [gw]\n  backends: [{service: a}]\n  firewall: \"\"\n",
			6, "Route/r", "spec.firewall", `must name a Firewall, or be none to turn the Gateway default off`},
		{"gateway default firewall missing", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  defaults: {firewall: edge}\n",
			6, "Gateway/g", "spec.defaults.firewall", `Firewall "edge" does not exist`},
	})
}

// TestFirewallAttachment: a Gateway default applies to its Routes, a
// Route's own Firewall overrides it, and firewall: none opts one Route out.
func TestFirewallAttachment(t *testing.T) {
	s := Load(testFS(t, map[string]string{"fw.yaml": `kind: Firewall
name: edge
spec:
  paranoiaLevel: 2
  anomalyThresholds: {inbound: 10, outbound: 8}
  detectionOnly: true
  exclusions:
    ids: [942100]
    tags: [attack-xss]
    paths:
      - {prefix: /upload, ids: [920420], tags: [paranoia-level/2]}
  limits: {requestBodyKB: 256, responseBodyKB: 1024}
  inspectResponse: true
---
kind: Firewall
name: strict
spec: {paranoiaLevel: 4}
---
kind: Gateway
name: edge-gw
spec:
  listeners: [{name: http, port: 9080, protocol: HTTP}]
  defaults: {firewall: edge}
---
kind: Route
name: inherits
spec:
  gateways: [edge-gw]
  match: {path: {prefix: /a}}
  backends: [{service: a}]
---
kind: Route
name: own
spec:
  gateways: [edge-gw]
  match: {path: {prefix: /b}}
  backends: [{service: a}]
  firewall: strict
---
kind: Route
name: opted-out
spec:
  gateways: [edge-gw]
  match: {path: {prefix: /c}}
  backends: [{service: a}]
  firewall: none
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors:\n%s", strings.Join(errs, "\n"))
	}
	gw := s.Gateways["edge-gw"]
	for route, want := range map[string]string{"inherits": "edge", "own": "strict", "opted-out": ""} {
		if got := s.Routes[route].EffectiveFirewall(gw); got != want {
			t.Errorf("Route %s: EffectiveFirewall = %q, want %q", route, got, want)
		}
	}
	f := s.Firewalls["edge"].Spec
	if f.ParanoiaLevel != 2 || f.AnomalyThresholds.Outbound != 8 || !f.DetectionOnly || f.Exclusions.Paths[0].Tags[0] != "paranoia-level/2" || f.Limits.ResponseBodyKB != 1024 || !f.InspectResponse {
		t.Errorf("Firewall edge decoded as %+v", f)
	}
	// A firewalled Route is a protection proxyless gRPC clients cannot
	// enforce (grpc-go has no ext_proc): it is withheld from them.
	if got := s.Routes["own"].Protections(gw, s.Services); len(got) != 1 || got[0] != "web application firewall" {
		t.Errorf("Protections = %v, want [web application firewall]", got)
	}
	if !s.Routes["own"].ProxylessWithheld(gw, s.Services) || s.Routes["opted-out"].ProxylessWithheld(gw, s.Services) {
		t.Errorf("ProxylessWithheld: own %v (want true), opted-out %v (want false)", s.Routes["own"].ProxylessWithheld(gw, s.Services), s.Routes["opted-out"].ProxylessWithheld(gw, s.Services))
	}
}

// TestFirewallBoundsLoad: the ranges TestBadFirewall refuses past are
// inclusive (thresholds 1..10000, bodies 1..MaxFirewallBodyKB), and a path
// exclusion may name only rule ids or only tags.
func TestFirewallBoundsLoad(t *testing.T) {
	src := `kind: Firewall
name: low
spec:
  inspectResponse: true
  anomalyThresholds: {inbound: 1, outbound: 10000}
  limits: {requestBodyKB: 1, responseBodyKB: 16384}
  exclusions:
    paths:
      - {prefix: /a, ids: [942100]}
      - {prefix: /b, tags: [attack-xss]}
---
kind: Firewall
name: high
spec:
  inspectResponse: true
  anomalyThresholds: {inbound: 10000, outbound: 1}
  limits: {requestBodyKB: 16384, responseBodyKB: 1}
`
	s := Load(testFS(t, map[string]string{"f.yaml": src}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %s", strings.Join(errs, "\n"))
	}
	if l := s.Firewalls["low"].Spec.Limits; l.RequestBodyKB != 1 || l.ResponseBodyKB != MaxFirewallBodyKB {
		t.Errorf("limits %+v", l)
	}
}
