package security_clientip

import (
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacfv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// The edge protections (xds/translate/ddos.go) attacked through the
// emitted config: the IP lists (edge RBAC, remote_ip) and the per-client
// request limit (edge local_ratelimit, masked_remote_address, exemptions
// through the RBAC shadow result), both fed by the address the
// connection manager detects (detect, envoy_test.go).
const edgeYAML = `
kind: Gateway
name: plain
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
  limits: {perClient: {requestsPerSecond: 5, burst: 10, exempt: [10.0.0.0/8]}}
---
kind: Gateway
name: hops
spec:
  listeners: [{name: http, port: 8081, protocol: HTTP}]
  clientIP: {xffTrustedHops: 1}
  limits: {perClient: {requestsPerSecond: 5, burst: 10, exempt: [10.0.0.0/8]}}
---
kind: Gateway
name: lists
spec:
  listeners: [{name: http, port: 8082, protocol: HTTP}]
  ipAccess: {allow: [10.0.0.0/8, "2001:db8::/32"], deny: [10.66.0.0/16]}
---
kind: Gateway
name: deny
spec:
  listeners: [{name: http, port: 8083, protocol: HTTP}]
  ipAccess: {deny: [198.51.100.0/24]}
  limits: {perClient: {requestsPerSecond: 1, burst: 3}}
---
kind: Gateway
name: off
spec:
  listeners: [{name: http, port: 8084, protocol: HTTP}]
  limits: {perClient: {disabled: true}}
`

// edgeGateway is a translated Gateway with the state of its per-client
// buckets.
type edgeGateway struct {
	g       *gateway
	rbac    *rbacfv3.RBAC
	limit   *localrlv3.LocalRateLimit
	buckets map[string]int // tokens left per descriptor
}

func startEdge(t *testing.T) map[string]*edgeGateway {
	t.Helper()
	snap := policy.Load(fstest.MapFS{"policy.yaml": {Data: []byte(edgeYAML)}}, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatalf("policy: %s", strings.Join(errs, "\n"))
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	out := map[string]*edgeGateway{}
	for name := range snap.Gateways {
		grp := groups[translate.GroupKey{Gateway: name, Client: translate.ClientEnvoy}]
		l := grp.Listeners[0].(*listenerv3.Listener)
		e := &edgeGateway{g: &gateway{name: name, hcm: &hcmv3.HttpConnectionManager{}}, buckets: map[string]int{}}
		fs := l.GetFilterChains()[0].GetFilters()
		if err := fs[len(fs)-1].GetTypedConfig().UnmarshalTo(e.g.hcm); err != nil { // after the connection limit
			t.Fatal(err)
		}
		for _, f := range e.g.hcm.GetHttpFilters() {
			switch f.GetName() {
			case wire.FilterEdgeRBAC:
				e.rbac = &rbacfv3.RBAC{}
				if err := f.GetTypedConfig().UnmarshalTo(e.rbac); err != nil {
					t.Fatal(err)
				}
			case wire.FilterEdgeLocalRateLimit:
				e.limit = &localrlv3.LocalRateLimit{}
				if err := f.GetTypedConfig().UnmarshalTo(e.limit); err != nil {
					t.Fatal(err)
				}
			}
		}
		out[name] = e
	}
	return out
}

// send is one request through the edge filters: 403 from the IP lists,
// 429 from the per-client limit, else 200.
func (e *edgeGateway) send(t *testing.T, peer string, headers map[string][]string) int {
	t.Helper()
	lower := map[string][]string{}
	for k, v := range headers {
		lower[strings.ToLower(k)] = v
	}
	client := e.g.detect(t, peer, lower)
	md := map[string]string{} // envoy.filters.http.rbac dynamic metadata
	if e.rbac != nil {
		// rbac_filter.cc, decodeHeaders: the shadow engine first, whose
		// matched policy goes into metadata under the prefixed key; then
		// the enforced one (ALLOW: a policy must match, else 403).
		if id := matchingPolicy(t, e.rbac.GetShadowRules(), client); id != "" {
			md[e.rbac.GetShadowRulesStatPrefix()+"shadow_effective_policy_id"] = id
		}
		if r := e.rbac.GetRules(); r != nil {
			if r.GetAction() != rbacv3.RBAC_ALLOW {
				t.Fatalf("rules action %v: this simulator knows ALLOW", r.GetAction())
			}
			if matchingPolicy(t, r, client) == "" {
				return 403
			}
		}
	}
	if e.limit == nil {
		return 200
	}
	// local_ratelimit: descriptors from the filter's rate_limits (router_
	// ratelimit.cc: every action must produce its entry, else no
	// descriptor), matched against the configured ones (blank value:
	// any), a bucket per distinct descriptor; no descriptor: the
	// pass-through default bucket.
	for _, rl := range e.limit.GetRateLimits() {
		var entries []string
		ok := true
		for _, a := range rl.GetActions() {
			switch {
			case a.GetGenericKey() != nil:
				entries = append(entries, a.GetGenericKey().GetDescriptorKey()+"="+a.GetGenericKey().GetDescriptorValue())
			case a.GetMetadata() != nil:
				m := a.GetMetadata()
				if m.GetMetadataKey().GetKey() != "envoy.filters.http.rbac" || len(m.GetMetadataKey().GetPath()) != 1 {
					t.Fatalf("metadata action %v: unknown to this simulator", m)
				}
				v, found := md[m.GetMetadataKey().GetPath()[0].GetKey()]
				if !found {
					ok = false
				}
				entries = append(entries, m.GetDescriptorKey()+"="+v)
			case a.GetMaskedRemoteAddress() != nil:
				m := a.GetMaskedRemoteAddress()
				bits := int(m.GetV4PrefixMaskLen().GetValue())
				if client.Is6() {
					bits = int(m.GetV6PrefixMaskLen().GetValue())
				}
				entries = append(entries, "masked_remote_address="+netip.PrefixFrom(client, bits).Masked().String())
			default:
				t.Fatalf("action %v: unknown to this simulator (a header-based key would let the client choose)", a)
			}
		}
		if !ok {
			continue
		}
		for _, d := range e.limit.GetDescriptors() {
			if !descriptorMatches(d.GetEntries(), entries) {
				continue
			}
			k := strings.Join(entries, ",")
			left, seen := e.buckets[k]
			if !seen {
				left = int(d.GetTokenBucket().GetMaxTokens())
			}
			if left == 0 {
				return 429
			}
			e.buckets[k] = left - 1
		}
	}
	return 200
}

type entryLike interface {
	GetKey() string
	GetValue() string
}

func descriptorMatches[E entryLike](conf []E, got []string) bool {
	if len(conf) != len(got) {
		return false
	}
	for i, c := range conf {
		k, v, _ := strings.Cut(got[i], "=")
		if c.GetKey() != k || (c.GetValue() != "" && c.GetValue() != v) {
			return false
		}
	}
	return true
}

// matchingPolicy is the name of a policy whose principals match client
// (engine_impl.cc: the first matching policy is the effective one).
func matchingPolicy(t *testing.T, r *rbacv3.RBAC, client netip.Addr) string {
	for name, p := range r.GetPolicies() {
		for _, pc := range p.GetPrincipals() {
			if principalMatches(t, pc, client) {
				return name
			}
		}
	}
	return ""
}

// principalMatches follows source/extensions/filters/common/rbac/
// matchers.cc for what the edge emits: remote_ip reads the stream's
// (detected) address. direct_remote_ip or a header would be a hole.
func principalMatches(t *testing.T, p *rbacv3.Principal, client netip.Addr) bool {
	switch {
	case p.GetAny():
		return true
	case p.GetRemoteIp() != nil:
		ip := p.GetRemoteIp()
		return netip.PrefixFrom(netip.MustParseAddr(ip.GetAddressPrefix()), int(ip.GetPrefixLen().GetValue())).Contains(client)
	case p.GetNotId() != nil:
		return !principalMatches(t, p.GetNotId(), client)
	case p.GetAndIds() != nil:
		for _, q := range p.GetAndIds().GetIds() {
			if !principalMatches(t, q, client) {
				return false
			}
		}
		return true
	case p.GetOrIds() != nil:
		for _, q := range p.GetOrIds().GetIds() {
			if principalMatches(t, q, client) {
				return true
			}
		}
		return false
	}
	t.Fatalf("principal %v: not what the edge should emit", p)
	return false
}

// flood sends n requests and counts the 200s.
func flood(t *testing.T, e *edgeGateway, n int, peer string, h func(i int) map[string][]string) int {
	t.Helper()
	ok := 0
	for i := 0; i < n; i++ {
		if e.send(t, peer, h(i)) == 200 {
			ok++
		}
	}
	return ok
}

// TestEdgeSpoofedXFFCountsAgainstPeer: with 0 trusted hops a client that
// sends a new X-Forwarded-For (or x-gatehouse-client-ip) with every request
// is still one client: the TCP peer's bucket.
func TestEdgeSpoofedXFFCountsAgainstPeer(t *testing.T) {
	gws := startEdge(t)
	e := gws["plain"]
	got := flood(t, e, 100, attacker, func(i int) map[string][]string {
		return map[string][]string{
			"X-Forwarded-For":       {netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}).String()},
			"x-gatehouse-client-ip": {netip.AddrFrom4([4]byte{203, 0, 114, byte(i)}).String()},
		}
	})
	if got != 10 {
		t.Errorf("attacker rotating X-Forwarded-For: %d of 100 passed, want the burst of 10", got)
	}
	if s := e.send(t, partner, nil); s != 200 {
		t.Errorf("another client after the flood: %d, want 200 (its own bucket)", s)
	}
}

// TestEdgeExemptNotThroughXFF: the exempt range cannot be claimed with
// X-Forwarded-For when no clientIP detection is configured; a real client
// in it is never limited.
func TestEdgeExemptNotThroughXFF(t *testing.T) {
	gws := startEdge(t)
	e := gws["plain"]
	if got := flood(t, e, 50, attacker, func(int) map[string][]string { return xff(office) }); got != 10 {
		t.Errorf("attacker claiming the exempt %s in X-Forwarded-For: %d of 50 passed, want 10", office, got)
	}
	if got := flood(t, e, 500, office, func(int) map[string][]string { return nil }); got != 500 {
		t.Errorf("exempt client: %d of 500 passed, want all", got)
	}
}

// TestEdgeExemptBehindTrustedProxy: behind one trusted proxy the client is
// the entry it appended; entries the attacker put before it are never
// read, so it cannot claim the exempt range either.
func TestEdgeExemptBehindTrustedProxy(t *testing.T) {
	gws := startEdge(t)
	e := gws["hops"]
	if got := flood(t, e, 50, proxy1, func(int) map[string][]string { return xff(office, attacker) }); got != 10 {
		t.Errorf("attacker prepending %s: %d of 50 passed, want 10", office, got)
	}
	if got := flood(t, e, 50, proxy1, func(int) map[string][]string { return xff("10.7.7.7") }); got != 50 {
		t.Errorf("exempt client behind the proxy: %d of 50 passed, want all", got)
	}
	// The proxy itself (10.1.1.1 is in the exempt range) does not exempt
	// the clients it forwards: each is counted.
	if got := flood(t, e, 50, proxy1, func(int) map[string][]string { return xff(partner) }); got != 10 {
		t.Errorf("client behind an exempt proxy: %d of 50 passed, want 10", got)
	}
}

// TestEdgeIPv6PerSlash64: addresses of one /64 share a bucket, so a host
// cannot rotate through its own prefix.
func TestEdgeIPv6PerSlash64(t *testing.T) {
	gws := startEdge(t)
	e := gws["plain"]
	ok := 0
	for i := 0; i < 50; i++ {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
		if e.send(t, a.String(), nil) == 200 {
			ok++
		}
	}
	if ok != 10 {
		t.Errorf("50 addresses of one /64: %d passed, want 10", ok)
	}
}

// TestEdgeIPLists: allow and deny ranges by the detected address; a
// spoofed X-Forwarded-For neither gets a client in nor out.
func TestEdgeIPLists(t *testing.T) {
	gws := startEdge(t)
	e := gws["lists"]
	for _, c := range []struct {
		peer string
		h    map[string][]string
		want int
	}{
		{office, nil, 200},
		{"2001:db8::1", nil, 200},
		{"10.66.1.1", nil, 403},         // the hole in the allowed range
		{attacker, nil, 403},            // outside the allow list
		{attacker, xff(office), 403},    // cannot claim an allowed address
		{"10.66.1.1", xff(office), 403}, // nor leave the denied range
		{office, xff(attacker), 200},    // nor be thrown out by a header
	} {
		if got := e.send(t, c.peer, c.h); got != c.want {
			t.Errorf("peer %s headers %v: %d, want %d", c.peer, c.h, got, c.want)
		}
	}
	d := gws["deny"]
	if got := d.send(t, attacker, xff(office)); got != 403 {
		t.Errorf("denied peer with a spoofed X-Forwarded-For: %d, want 403", got)
	}
	if got := flood(t, d, 10, partner, func(int) map[string][]string { return nil }); got != 3 {
		t.Errorf("deny list with a per-client limit: %d of 10 passed, want 3", got)
	}
}

// TestEdgeLimitOff: disabled means no edge filter at all.
func TestEdgeLimitOff(t *testing.T) {
	gws := startEdge(t)
	e := gws["off"]
	if e.limit != nil || e.rbac != nil {
		t.Fatalf("disabled per-client limit still emitted: limit %v rbac %v", e.limit != nil, e.rbac != nil)
	}
	if got := flood(t, e, 1000, attacker, func(int) map[string][]string { return nil }); got != 1000 {
		t.Errorf("%d of 1000 passed with the limit off", got)
	}
}
