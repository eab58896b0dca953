package policy

import (
	"fmt"
	"net/netip"
)

// PerClientLimit is a Gateway's request limit per client address: a token
// bucket per client IPv4 address or IPv6 /64, kept by each Envoy of the
// Gateway. It is on by default; Disabled turns it off.
type PerClientLimit struct {
	Disabled bool `yaml:"disabled"`
	// RequestsPerSecond refill the client's bucket (default
	// DefaultPerClientRequestsPerSecond).
	RequestsPerSecond int `yaml:"requestsPerSecond"`
	// Burst is the bucket's size, what a client may send at once (default
	// twice RequestsPerSecond).
	Burst int `yaml:"burst"`
	// Exempt lists the CIDRs whose clients are never limited (monitoring,
	// a partner's NAT).
	Exempt []string `yaml:"exempt"`
}

// IPAccess allows or denies clients by address. The address is the one
// the Gateway's clientIP finds (the TCP peer without it). With Allow only
// those clients are served; Deny refuses its clients even inside Allow.
type IPAccess struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

// Per-client limit defaults and bounds.
const (
	DefaultPerClientRequestsPerSecond = 100
	MaxPerClientRequestsPerSecond     = 1000000
	// MaxHeadersCount: Envoy's max_headers_count has no upper bound; more
	// than this many headers is an attack, not a request.
	MaxHeadersCount = 10000
	// MaxConcurrentStreams is Envoy's bound for max_concurrent_streams
	// (2^31 - 1, api/envoy/config/core/v3/protocol.proto).
	MaxConcurrentStreams = 2147483647
	maxCIDRs             = 1024
	// MaxConnectionsPerListener bounds limits.maxConnectionsPerListener:
	// far above what one Envoy can hold open (file descriptors), so only
	// a typo reaches it.
	MaxConnectionsPerListener = 100000000
)

// PerClientBurst is the bucket size a limit gets.
func (p *PerClientLimit) PerClientBurst() int {
	if p != nil && p.Burst > 0 {
		return p.Burst
	}
	return 2 * p.PerSecond()
}

// PerSecond is the limit's refill rate.
func (p *PerClientLimit) PerSecond() int {
	if p != nil && p.RequestsPerSecond > 0 {
		return p.RequestsPerSecond
	}
	return DefaultPerClientRequestsPerSecond
}

func validateEdgeLimits(o *objErrs, lim *GatewayLimits) {
	positiveDuration(o, "spec.limits.requestHeadersTimeout", lim.RequestHeadersTimeout)
	if o.has("spec.limits.maxHeadersCount") && (lim.MaxHeadersCount < 1 || lim.MaxHeadersCount > MaxHeadersCount) {
		o.add("spec.limits.maxHeadersCount", "%d is out of range; 1..%d", lim.MaxHeadersCount, MaxHeadersCount)
	}
	if o.has("spec.limits.maxConcurrentStreams") && (lim.MaxConcurrentStreams < 1 || lim.MaxConcurrentStreams > MaxConcurrentStreams) {
		o.add("spec.limits.maxConcurrentStreams", "%d is out of range; 1..%d", lim.MaxConcurrentStreams, MaxConcurrentStreams)
	}
	if o.has("spec.limits.maxConnectionsPerListener") && (lim.MaxConnectionsPerListener < 1 || lim.MaxConnectionsPerListener > MaxConnectionsPerListener) {
		o.add("spec.limits.maxConnectionsPerListener", "%d is out of range; 1..%d (the limit cannot be turned off: set it above the bootstrap's --max-connections to leave only the global one)", lim.MaxConnectionsPerListener, MaxConnectionsPerListener)
	}
	pc := lim.PerClient
	const p = "spec.limits.perClient"
	if pc == nil {
		if o.has(p) {
			o.add(p, "empty; set requestsPerSecond, burst, exempt or disabled: true, or omit perClient for the default")
		}
		return
	}
	if !o.has(p+".disabled") && !o.has(p+".requestsPerSecond") && !o.has(p+".burst") && !o.has(p+".exempt") {
		o.add(p, "empty; set requestsPerSecond, burst, exempt or disabled: true, or omit perClient for the default")
		return
	}
	if o.has(p+".disabled") && !pc.Disabled {
		o.add(p+".disabled", "only true is allowed; omit disabled to keep the limit on")
	}
	if pc.Disabled {
		for _, f := range []string{"requestsPerSecond", "burst", "exempt"} {
			if o.has(p + "." + f) {
				o.add(p+"."+f, "contradicts disabled: true; remove one of them")
			}
		}
		return
	}
	if o.has(p+".requestsPerSecond") && (pc.RequestsPerSecond < 1 || pc.RequestsPerSecond > MaxPerClientRequestsPerSecond) {
		o.add(p+".requestsPerSecond", "%d is out of range; 1..%d (disabled: true turns the limit off)", pc.RequestsPerSecond, MaxPerClientRequestsPerSecond)
	}
	if o.has(p + ".burst") {
		switch {
		case pc.Burst < 1 || pc.Burst > MaxPerClientRequestsPerSecond:
			o.add(p+".burst", "%d is out of range; 1..%d", pc.Burst, MaxPerClientRequestsPerSecond)
		case pc.Burst < pc.PerSecond():
			// The bucket is refilled once a second up to burst: a burst
			// below the rate (the default one included) would cap the
			// rate at burst.
			o.add(p+".burst", "%d is below requestsPerSecond (%d); the bucket holds at most burst, so the rate would be %d", pc.Burst, pc.PerSecond(), pc.Burst)
		}
	}
	if o.has(p+".exempt") && len(pc.Exempt) == 0 {
		o.add(p+".exempt", "empty; list CIDRs or omit exempt")
	}
	validateCIDRList(o, p+".exempt", pc.Exempt)
}

func validateIPAccess(o *objErrs, a *IPAccess) {
	const p = "spec.ipAccess"
	if a == nil {
		if o.has(p) {
			o.add(p, "empty; list allow or deny CIDRs, or omit ipAccess")
		}
		return
	}
	if len(a.Allow) == 0 && len(a.Deny) == 0 {
		o.add(p, "list allow or deny CIDRs, or omit ipAccess")
		return
	}
	allow := validateCIDRList(o, p+".allow", a.Allow)
	deny := validateCIDRList(o, p+".deny", a.Deny)
	// An allowed range wholly inside a denied one would never be served:
	// the two lists contradict each other.
	for i, al := range allow {
		for j, d := range deny {
			if al.IsValid() && d.IsValid() && d.Bits() <= al.Bits() && d.Contains(al.Addr()) {
				o.add(fmt.Sprintf("%s.allow[%d]", p, i), "%s is inside deny[%d] (%s): it would never be allowed; remove one of them", al, j, d)
			}
		}
	}
}

// validateCIDRList checks canonical CIDRs (as Authorization sourceCIDRs)
// and returns them parsed (an invalid entry is the zero Prefix).
func validateCIDRList(o *objErrs, p string, cidrs []string) []netip.Prefix {
	if len(cidrs) > maxCIDRs {
		o.add(p, "%d CIDRs; at most %d", len(cidrs), maxCIDRs)
	}
	out := make([]netip.Prefix, len(cidrs))
	seen := map[netip.Prefix]bool{}
	for i, c := range cidrs {
		cp := fmt.Sprintf("%s[%d]", p, i)
		pfx, err := netip.ParsePrefix(c)
		switch {
		case err != nil:
			o.add(cp, "%q is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32 (a single address is 192.0.2.1/32)", c)
		case pfx != pfx.Masked():
			o.add(cp, "%q has bits set beyond the prefix length; did you mean %s?", c, pfx.Masked())
		case pfx.Addr().Zone() != "":
			o.add(cp, "%q: zones are not allowed", c)
		case seen[pfx]:
			o.add(cp, "duplicate CIDR %s", c)
		default:
			seen[pfx] = true
			out[i] = pfx
		}
	}
	return out
}
