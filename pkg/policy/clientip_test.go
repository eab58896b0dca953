package policy

import (
	"fmt"
	"strings"
	"testing"
)

// TestClientIPLoads: each form of clientIP and proxyProtocol loads as
// written.
func TestClientIPLoads(t *testing.T) {
	s := Load(testFS(t, map[string]string{"g.yaml": `kind: Gateway
name: hops
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP, proxyProtocol: true}
  clientIP: {xffTrustedHops: 2}
---
kind: Gateway
name: cdn
spec:
  listeners:
    - {name: http, port: 8081, protocol: HTTP}
  clientIP: {trustedHeader: CF-Connecting-IP}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %s", strings.Join(errs, "\n"))
	}
	if c := s.Gateways["hops"].Spec.ClientIP; c == nil || c.XFFTrustedHops != 2 || c.TrustedHeader != "" {
		t.Errorf("hops clientIP = %+v", c)
	}
	if !s.Gateways["hops"].Spec.Listeners[0].ProxyProtocol {
		t.Error("proxyProtocol not read")
	}
	if c := s.Gateways["cdn"].Spec.ClientIP; c == nil || c.TrustedHeader != "CF-Connecting-IP" {
		t.Errorf("cdn clientIP = %+v", c)
	}
}

// TestClientIPBadInputs: every clientIP or proxyProtocol mistake names the
// file, line, object and field, and says what is allowed.
func TestClientIPBadInputs(t *testing.T) {
	const l = gateway + "    - {name: http, port: 8080, protocol: HTTP}\n"
	runBadCases(t, []badCase{
		{"both forms", l + "  clientIP: {xffTrustedHops: 1, trustedHeader: x-real-ip}\n",
			6, "Gateway/g", "spec.clientIP", "set one of xffTrustedHops and trustedHeader, not both"},
		{"empty", l + "  clientIP: {}\n",
			6, "Gateway/g", "spec.clientIP", "set xffTrustedHops or trustedHeader, or omit clientIP"},
		{"zero hops", l + "  clientIP: {xffTrustedHops: 0}\n",
			6, "Gateway/g", "spec.clientIP.xffTrustedHops", "0 is out of range; 1..10"},
		{"negative hops", l + "  clientIP: {xffTrustedHops: -1}\n",
			6, "Gateway/g", "spec.clientIP.xffTrustedHops", "-1 is out of range; 1..10"},
		{"too many hops", l + "  clientIP: {xffTrustedHops: 11}\n",
			6, "Gateway/g", "spec.clientIP.xffTrustedHops", "11 is out of range; 1..10"},
		{"hops not a number", l + "  clientIP: {xffTrustedHops: two}\n",
			6, "Gateway/g", "spec.clientIP.xffTrustedHops", `expected an integer, got string "two"`},
		{"empty header", l + "  clientIP: {trustedHeader: \"\"}\n",
			6, "Gateway/g", "spec.clientIP.trustedHeader", "required: the header the trusted proxy sets"},
		{"pseudo header", l + "  clientIP: {trustedHeader: \":authority\"}\n",
			6, "Gateway/g", "spec.clientIP.trustedHeader", "is a pseudo-header"},
		{"invalid header", l + "  clientIP: {trustedHeader: \"x real ip\"}\n",
			6, "Gateway/g", "spec.clientIP.trustedHeader", `"x real ip" is not a valid header name`},
		{"underscore header", l + "  clientIP: {trustedHeader: x_real_ip}\n",
			6, "Gateway/g", "spec.clientIP.trustedHeader", "has an underscore; gateways reject headers with underscores"},
		{"xff as header", l + "  clientIP: {trustedHeader: X-Forwarded-For}\n",
			6, "Gateway/g", "spec.clientIP.trustedHeader", "use xffTrustedHops instead"},
		{"own header", l + "  clientIP: {trustedHeader: x-gatehouse-client-ip}\n",
			6, "Gateway/g", "spec.clientIP.trustedHeader", "is a gatehouse header"},
		{"unknown field", l + "  clientIP: {trustedCIDRs: [10.0.0.0/8]}\n",
			6, "Gateway/g", "spec.clientIP.trustedCIDRs", `unknown field "trustedCIDRs"; allowed: trustedHeader, xffTrustedHops`},
		{"proxyProtocol false", gateway + "    - {name: http, port: 8080, protocol: HTTP, proxyProtocol: false}\n",
			5, "Gateway/g", "spec.listeners[0].proxyProtocol", "only true is allowed"},
		{"proxyProtocol mixed on one port", gateway + "    - {name: a, port: 8443, protocol: HTTPS, hostnames: [a.example.com], proxyProtocol: true, tls: {certificate: certs/api.pem, key: certs/api-key.pem}}\n" +
			"    - {name: b, port: 8443, protocol: HTTPS, hostnames: [b.example.com], tls: {certificate: certs/api.pem, key: certs/api-key.pem}}\n",
			6, "Gateway/g", "spec.listeners[1].port", `port 8443 is shared with listener "a" (line 5), which differs in proxyProtocol`},
	})
}

// TestClientIPHopsBounds: xffTrustedHops loads at both ends of its range
// (TestClientIPBadInputs refuses one past each).
func TestClientIPHopsBounds(t *testing.T) {
	for _, hops := range []int{1, MaxXFFTrustedHops} {
		s := Load(testFS(t, map[string]string{"g.yaml": fmt.Sprintf("kind: Gateway\nname: g\nspec:\n  listeners: [{name: http, port: 8081, protocol: HTTP}]\n  clientIP: {xffTrustedHops: %d}\n", hops)}), nil)
		if c := s.Gateways["g"]; len(s.Rejected) != 0 || c == nil || c.Spec.ClientIP.XFFTrustedHops != hops {
			t.Errorf("xffTrustedHops %d: rejected: %q", hops, s.Errors())
		}
	}
}
