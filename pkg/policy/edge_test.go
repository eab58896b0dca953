package policy

import (
	"fmt"
	"strings"
	"testing"
)

// TestEdgeLoads: ipAccess, perClient and the header and stream limits
// load as written.
func TestEdgeLoads(t *testing.T) {
	s := Load(testFS(t, map[string]string{"g.yaml": `kind: Gateway
name: edge
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
  ipAccess: {allow: [10.0.0.0/8], deny: [10.66.0.0/16]}
  limits:
    requestHeadersTimeout: 5s
    maxHeadersCount: 60
    maxConcurrentStreams: 50
    perClient: {requestsPerSecond: 20, burst: 40, exempt: ["2001:db8::/32"]}
---
kind: Gateway
name: off
spec:
  listeners:
    - {name: http, port: 8081, protocol: HTTP}
  limits: {perClient: {disabled: true}}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %s", strings.Join(errs, "\n"))
	}
	g := s.Gateways["edge"].Spec
	if a := g.IPAccess; a == nil || len(a.Allow) != 1 || a.Deny[0] != "10.66.0.0/16" {
		t.Errorf("ipAccess = %+v", a)
	}
	l := g.Limits
	if l.RequestHeadersTimeout.D().Seconds() != 5 || l.MaxHeadersCount != 60 || l.MaxConcurrentStreams != 50 {
		t.Errorf("limits = %+v", l)
	}
	if pc := l.PerClient; pc.PerSecond() != 20 || pc.PerClientBurst() != 40 || pc.Exempt[0] != "2001:db8::/32" {
		t.Errorf("perClient = %+v", pc)
	}
	if !s.Gateways["off"].Spec.Limits.PerClient.Disabled {
		t.Error("disabled not read")
	}
	var def *PerClientLimit
	if def.PerSecond() != DefaultPerClientRequestsPerSecond || def.PerClientBurst() != 2*DefaultPerClientRequestsPerSecond {
		t.Errorf("defaults: %d/s burst %d", def.PerSecond(), def.PerClientBurst())
	}
	if r, b := (&PerClientLimit{Exempt: []string{"10.0.0.0/8"}}).PerSecond(), (&PerClientLimit{}).PerClientBurst(); r != 100 || b != 200 {
		t.Errorf("a limit that sets neither: %d/s burst %d, want 100 and 200", r, b)
	}
	if b := (&PerClientLimit{RequestsPerSecond: 7}).PerClientBurst(); b != 14 {
		t.Errorf("burst of 7/s = %d, want 14", b)
	}
}

// TestEdgeBadInputs: bad CIDRs, limits of 0 or below, and contradictory
// settings name the file, line, object and field.
func TestEdgeBadInputs(t *testing.T) {
	const l = gateway + "    - {name: http, port: 8080, protocol: HTTP}\n"
	runBadCases(t, []badCase{
		{"bad CIDR", l + "  ipAccess: {deny: [10.0.0.0/33]}\n",
			6, "Gateway/g", "spec.ipAccess.deny[0]", `"10.0.0.0/33" is not a CIDR such as 10.0.0.0/8`},
		{"address without prefix", l + "  ipAccess: {allow: [192.0.2.1]}\n",
			6, "Gateway/g", "spec.ipAccess.allow[0]", `(a single address is 192.0.2.1/32)`},
		{"host bits", l + "  ipAccess: {allow: [10.1.2.3/8]}\n",
			6, "Gateway/g", "spec.ipAccess.allow[0]", `has bits set beyond the prefix length; did you mean 10.0.0.0/8?`},
		{"duplicate CIDR", l + "  ipAccess: {deny: [10.0.0.0/8, 10.0.0.0/8]}\n",
			6, "Gateway/g", "spec.ipAccess.deny[1]", `duplicate CIDR 10.0.0.0/8`},
		{"empty ipAccess", l + "  ipAccess: {}\n",
			6, "Gateway/g", "spec.ipAccess", `list allow or deny CIDRs, or omit ipAccess`},
		{"allow inside deny", l + "  ipAccess:\n    allow: [10.1.0.0/16]\n    deny: [10.0.0.0/8]\n",
			7, "Gateway/g", "spec.ipAccess.allow[0]", `10.1.0.0/16 is inside deny[0] (10.0.0.0/8): it would never be allowed`},
		{"same in allow and deny", l + "  ipAccess:\n    allow: [\"2001:db8::/32\"]\n    deny: [\"2001:db8::/32\"]\n",
			7, "Gateway/g", "spec.ipAccess.allow[0]", `is inside deny[0]`},
		{"bad exempt CIDR", l + "  limits:\n    perClient:\n      exempt: [office]\n",
			8, "Gateway/g", "spec.limits.perClient.exempt[0]", `"office" is not a CIDR`},
		{"zero rate", l + "  limits: {perClient: {requestsPerSecond: 0}}\n",
			6, "Gateway/g", "spec.limits.perClient.requestsPerSecond", `0 is out of range; 1..1000000 (disabled: true turns the limit off)`},
		{"negative rate", l + "  limits: {perClient: {requestsPerSecond: -5}}\n",
			6, "Gateway/g", "spec.limits.perClient.requestsPerSecond", `-5 is out of range`},
		{"zero burst", l + "  limits: {perClient: {burst: 0}}\n",
			6, "Gateway/g", "spec.limits.perClient.burst", `0 is out of range`},
		{"burst below rate", l + "  limits: {perClient: {requestsPerSecond: 50, burst: 10}}\n",
			6, "Gateway/g", "spec.limits.perClient.burst", `10 is below requestsPerSecond (50)`},
		{"burst below the default rate", l + "  limits: {perClient: {burst: 99}}\n",
			6, "Gateway/g", "spec.limits.perClient.burst", `99 is below requestsPerSecond (100)`},
		{"disabled with a rate", l + "  limits:\n    perClient:\n      disabled: true\n      requestsPerSecond: 10\n",
			9, "Gateway/g", "spec.limits.perClient.requestsPerSecond", `contradicts disabled: true; remove one of them`},
		{"disabled with exempt", l + "  limits: {perClient: {disabled: true, exempt: [10.0.0.0/8]}}\n",
			6, "Gateway/g", "spec.limits.perClient.exempt", `contradicts disabled: true`},
		{"disabled false", l + "  limits: {perClient: {disabled: false}}\n",
			6, "Gateway/g", "spec.limits.perClient.disabled", `only true is allowed`},
		{"empty perClient", l + "  limits: {perClient: {}}\n",
			6, "Gateway/g", "spec.limits.perClient", `empty; set requestsPerSecond, burst, exempt or disabled: true`},
		{"empty exempt", l + "  limits: {perClient: {exempt: []}}\n",
			6, "Gateway/g", "spec.limits.perClient.exempt", `empty; list CIDRs or omit exempt`},
		{"zero headers", l + "  limits: {maxHeadersCount: 0}\n",
			6, "Gateway/g", "spec.limits.maxHeadersCount", `0 is out of range; 1..10000`},
		{"negative streams", l + "  limits: {maxConcurrentStreams: -1}\n",
			6, "Gateway/g", "spec.limits.maxConcurrentStreams", `-1 is out of range; 1..2147483647`},
		{"zero header timeout", l + "  limits: {requestHeadersTimeout: 0s}\n",
			6, "Gateway/g", "spec.limits.requestHeadersTimeout", `must be greater than 0`},
		{"too many headers", l + "  limits: {maxHeadersCount: 10001}\n",
			6, "Gateway/g", "spec.limits.maxHeadersCount", `10001 is out of range; 1..10000`},
		{"zero connections per listener", l + "  limits: {maxConnectionsPerListener: 0}\n",
			6, "Gateway/g", "spec.limits.maxConnectionsPerListener", `0 is out of range; 1..100000000 (the limit cannot be turned off`},
		{"negative connections per listener", l + "  limits: {maxConnectionsPerListener: -1}\n",
			6, "Gateway/g", "spec.limits.maxConnectionsPerListener", `-1 is out of range`},
		{"too many connections per listener", l + "  limits: {maxConnectionsPerListener: 100000001}\n",
			6, "Gateway/g", "spec.limits.maxConnectionsPerListener", `100000001 is out of range`},
		{"connections per listener not a number", l + "  limits: {maxConnectionsPerListener: lots}\n",
			6, "Gateway/g", "spec.limits.maxConnectionsPerListener", ``},
		{"too many streams", l + "  limits: {maxConcurrentStreams: 2147483648}\n",
			6, "Gateway/g", "spec.limits.maxConcurrentStreams", `2147483648 is out of range`},
		{"rate too high", l + "  limits: {perClient: {requestsPerSecond: 1000001}}\n",
			6, "Gateway/g", "spec.limits.perClient.requestsPerSecond", `1000001 is out of range; 1..1000000`},
		{"burst too high", l + "  limits: {perClient: {burst: 1000001}}\n",
			6, "Gateway/g", "spec.limits.perClient.burst", `1000001 is out of range; 1..1000000`},
		{"zoned CIDR", l + "  ipAccess: {deny: [\"fe80::%eth0/64\"]}\n",
			6, "Gateway/g", "spec.ipAccess.deny[0]", `is not a CIDR`},
		{"too many CIDRs", l + "  ipAccess:\n    deny: [" + manyCIDRs(1025) + "]\n",
			7, "Gateway/g", "spec.ipAccess.deny", `1025 CIDRs; at most 1024`},
		{"unknown perClient field", l + "  limits: {perClient: {rps: 5}}\n",
			6, "Gateway/g", "spec.limits.perClient.rps", `unknown field "rps"; allowed: burst, disabled, exempt, requestsPerSecond`},
	})
}

// manyCIDRs lists n distinct /32s.
func manyCIDRs(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.%d/32", i/256, i%256)
	}
	return strings.Join(out, ", ")
}

// TestEdgeLimitsAtTheirBounds: the largest values allowed load.
func TestEdgeLimitsAtTheirBounds(t *testing.T) {
	s := Load(testFS(t, map[string]string{"g.yaml": `kind: Gateway
name: edge
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
  ipAccess:
    deny: [` + manyCIDRs(1024) + `]
  limits:
    maxHeadersCount: 10000
    maxConcurrentStreams: 2147483647
    maxConnectionsPerListener: 100000000
    perClient: {requestsPerSecond: 1000000, burst: 1000000}
---
kind: Gateway
name: low
spec:
  listeners:
    - {name: http, port: 8081, protocol: HTTP}
  limits:
    maxHeadersCount: 1
    maxConcurrentStreams: 1
    maxConnectionsPerListener: 1
    perClient: {requestsPerSecond: 1, burst: 1, exempt: [0.0.0.0/0]}
  # A deny range inside an allowed one is a hole, not a contradiction.
  ipAccess: {allow: [10.0.0.0/8], deny: [10.0.0.0/16]}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %s", strings.Join(errs, "\n"))
	}
	if hi, lo := s.Gateways["edge"].Spec.Limits.MaxConnectionsPerListener, s.Gateways["low"].Spec.Limits.MaxConnectionsPerListener; hi != MaxConnectionsPerListener || lo != 1 {
		t.Errorf("maxConnectionsPerListener at its bounds: %d and %d, want %d and 1", hi, lo, MaxConnectionsPerListener)
	}
}
