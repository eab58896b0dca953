package security_clientip

import (
	"strings"
	"testing"
)

func xff(v ...string) map[string][]string {
	return map[string][]string{"X-Forwarded-For": v}
}

func with(h map[string][]string, k string, v ...string) map[string][]string {
	out := map[string][]string{k: v}
	for hk, hv := range h {
		out[hk] = hv
	}
	return out
}

// want checks an outcome: the detected address, and what sourceCIDRs
// (admin) and the Rego source policy (partners) decided.
func want(t *testing.T, e *env, gw string, c conn, h map[string][]string, detected string, admin bool, partners int) {
	t.Helper()
	a := e.send(t, gw, "admin", c, h)
	if a.closed {
		t.Fatalf("%s: connection closed", gw)
	}
	if a.detected.String() != detected {
		t.Errorf("%s: detected %s, want %s", gw, a.detected, detected)
	}
	if a.rbac != admin {
		t.Errorf("%s: admin (sourceCIDRs 10.0.0.0/8) allowed %v, want %v for %s", gw, a.rbac, admin, a.detected)
	}
	if p := e.send(t, gw, "partners", c, h); p.authz != partners {
		t.Errorf("%s: partners (Rego on input.attributes.source) status %d, want %d for %s", gw, p.authz, partners, p.detected)
	}
}

// TestSpoofedXFFWithoutClientIP: a Gateway without clientIP trusts no
// X-Forwarded-For entry (0 trusted hops) and no client-sent
// x-gatehouse-client-ip: the client is the TCP peer for every consumer.
func TestSpoofedXFFWithoutClientIP(t *testing.T) {
	e := start(t)
	c := conn{peer: attacker}
	want(t, e, "plain", c, nil, attacker, false, 403)
	want(t, e, "plain", c, xff(office), attacker, false, 403)
	want(t, e, "plain", c, xff(partner), attacker, false, 403)
	want(t, e, "plain", c, xff(office, partner, proxy1), attacker, false, 403)
	want(t, e, "plain", c, map[string][]string{"x-gatehouse-client-ip": {partner}}, attacker, false, 403)
	want(t, e, "plain", conn{peer: partner}, nil, partner, false, 200)
	want(t, e, "plain", conn{peer: office}, xff(attacker), office, true, 403)
}

// TestTrustedHops: behind two proxies that append to X-Forwarded-For, the
// client is the entry two from the right of what reaches Envoy; whatever
// the client put before it stays to the left and is never read.
func TestTrustedHops(t *testing.T) {
	e := start(t)
	via := conn{peer: proxy2} // proxy1 appended the client, proxy2 appended proxy1
	want(t, e, "hops", via, xff(partner, proxy1), partner, false, 200)
	want(t, e, "hops", via, xff(office, proxy1), office, true, 403)
	want(t, e, "hops", via, xff(attacker, proxy1), attacker, false, 403)
	// The attacker's own X-Forwarded-For arrives to the left of its real
	// address: one entry or many, in one header line or several.
	want(t, e, "hops", via, xff(office+", "+attacker, proxy1), attacker, false, 403)
	want(t, e, "hops", via, xff(partner+","+office+","+attacker+", "+proxy1), attacker, false, 403)
	want(t, e, "hops", via, xff(partner, attacker, proxy1), attacker, false, 403)
	// The header the Gateway sets for ext_authz cannot be sent instead.
	want(t, e, "hops", via, with(xff(attacker, proxy1), "x-gatehouse-client-ip", partner), attacker, false, 403)
	// An entry that is not an address (a port, brackets, a zone, junk)
	// keeps the peer: the nearest proxy, never a value the client chose.
	for _, bad := range []string{partner + ":443", "[" + partner + "]", "fe80::1%eth0", "unknown", "", strings.Repeat("9", 4000)} {
		want(t, e, "hops", via, xff(bad, proxy1), proxy2, true, 403)
	}
}

// TestTooManyHops shows the documented trade-off: with more trusted hops
// than proxies, the client's own X-Forwarded-For entry is read, and the
// client picks its address (here one in sourceCIDRs and the partner).
// docs/security/clientip.md says to count the proxies exactly.
func TestTooManyHops(t *testing.T) {
	e := start(t)
	via := conn{peer: proxy2}
	want(t, e, "toomany", via, xff(office, attacker, proxy1), office, true, 403)
	want(t, e, "toomany", via, xff(partner, attacker, proxy1), partner, false, 200)
	// Without a spoofed entry there are too few entries: the peer.
	want(t, e, "toomany", via, xff(attacker, proxy1), proxy2, true, 403)
}

// TestTooFewHops: with fewer trusted hops than proxies every client is
// the last proxy (rate limits shared by all, sourceCIDRs matching the
// proxy): wrong, but never the client's choice.
func TestTooFewHops(t *testing.T) {
	e := start(t)
	via := conn{peer: proxy2}
	want(t, e, "toofew", via, xff(attacker, proxy1), proxy1, true, 403)
	want(t, e, "toofew", via, xff(partner, attacker, proxy1), proxy1, true, 403)
}

// TestBypassingTheProxies: a client that reaches the Gateway's port
// directly writes the whole X-Forwarded-For. With no or one entry the
// peer stays the client; with as many entries as trusted hops it chooses
// its address. docs/security/clientip.md: the port must be reachable only
// through the trusted proxies.
func TestBypassingTheProxies(t *testing.T) {
	e := start(t)
	direct := conn{peer: attacker}
	want(t, e, "hops", direct, nil, attacker, false, 403)
	want(t, e, "hops", direct, xff(office), attacker, false, 403)
	want(t, e, "hops", direct, xff(office, "1.1.1.1"), office, true, 403)
}

// TestTrustedHeader: behind a CDN that sets CF-Connecting-IP, the client
// is that header's first value; without it, or with a value that is not
// an address (huge included), the TCP peer (the CDN node). X-Forwarded-For
// is not read at all.
func TestTrustedHeader(t *testing.T) {
	e := start(t)
	via := conn{peer: cdnEdge}
	h := func(v ...string) map[string][]string { return map[string][]string{"CF-Connecting-IP": v} }
	want(t, e, "cdn", via, h(partner), partner, false, 200)
	want(t, e, "cdn", via, h(office), office, true, 403)
	want(t, e, "cdn", via, h(attacker, partner), attacker, false, 403)
	want(t, e, "cdn", via, with(h(attacker), "x-gatehouse-client-ip", partner), attacker, false, 403)
	want(t, e, "cdn", via, with(h(attacker), "X-Forwarded-For", office), attacker, false, 403)
	// Missing, not an address, or huge: the CDN node, never the value.
	want(t, e, "cdn", via, nil, cdnEdge, false, 403)
	want(t, e, "cdn", via, xff(partner), cdnEdge, false, 403)
	for _, bad := range []string{"", partner + ", " + office, partner + ":80", "fe80::1%eth0", strings.Repeat("A", 50000)} {
		want(t, e, "cdn", via, h(bad), cdnEdge, false, 403)
	}
	// A client reaching the port directly sets the header: the documented
	// limit of a trusted header (docs/security/clientip.md).
	want(t, e, "cdn", conn{peer: attacker}, h(partner), partner, false, 200)
}

// TestProxyProtocol: on a proxyProtocol listener the PROXY header's source
// is the client for every consumer, ext_authz included (it reads the
// connection, which the PROXY protocol changes); a connection without it
// is closed, so a client reaching the port directly cannot pass for the
// balancer's clients.
func TestProxyProtocol(t *testing.T) {
	e := start(t)
	want(t, e, "l4", conn{peer: balancer, proxySource: partner}, xff(office), partner, false, 200)
	want(t, e, "l4", conn{peer: balancer, proxySource: attacker}, map[string][]string{"x-gatehouse-client-ip": {partner}}, attacker, false, 403)
	want(t, e, "l4", conn{peer: balancer, proxySource: office}, nil, office, true, 403)
	if o := e.send(t, "l4", "admin", conn{peer: attacker}, xff(office)); !o.closed {
		t.Errorf("a connection without the PROXY protocol was served: %+v", o)
	}
}
