package policy

import (
	"fmt"
	"strings"
)

// ClientIP says where a Gateway finds the client's address when trusted
// proxies stand in front of it. Exactly one of its fields is set.
//
// Every consumer of the client address uses the one found here: the
// sourceCIDRs of an Authorization, remote_address rate-limit keys, the
// access log's client_ip and input.attributes.source in Rego
// (docs/security/clientip.md has the trade-off: a wrong setting lets a
// client choose its own address).
type ClientIP struct {
	// XFFTrustedHops is the number of proxies in front of the Gateway
	// that each append to X-Forwarded-For: the client is the address that
	// many entries from the right. A request with fewer entries keeps the
	// TCP peer.
	XFFTrustedHops int `yaml:"xffTrustedHops"`
	// TrustedHeader names a header a trusted proxy (a CDN) sets to the
	// client's address alone, such as cf-connecting-ip. A request without
	// it, or with a value that is not an IP address, keeps the TCP peer.
	TrustedHeader string `yaml:"trustedHeader"`
}

// MaxXFFTrustedHops bounds xffTrustedHops: more proxies than this in
// front of one Gateway is a mistake, not a topology.
const MaxXFFTrustedHops = 10

// validateClientIP checks spec.clientIP and the listeners' proxyProtocol.
func validateClientIP(o *objErrs, g *Gateway) {
	for i := range g.Spec.Listeners {
		p := fmt.Sprintf("spec.listeners[%d].proxyProtocol", i)
		if o.has(p) && !g.Spec.Listeners[i].ProxyProtocol {
			o.add(p, "only true is allowed; omit proxyProtocol for a listener that takes connections without the PROXY protocol")
		}
	}
	c := g.Spec.ClientIP
	if c == nil {
		if o.has("spec.clientIP") {
			o.add("spec.clientIP", "empty; set xffTrustedHops or trustedHeader, or omit clientIP to use the TCP peer's address")
		}
		return
	}
	hops, header := o.has("spec.clientIP.xffTrustedHops"), o.has("spec.clientIP.trustedHeader")
	switch {
	case hops && header:
		o.add("spec.clientIP", "set one of xffTrustedHops and trustedHeader, not both")
		return
	case !hops && !header:
		o.add("spec.clientIP", "set xffTrustedHops or trustedHeader, or omit clientIP to use the TCP peer's address")
		return
	}
	if hops && (c.XFFTrustedHops < 1 || c.XFFTrustedHops > MaxXFFTrustedHops) {
		o.add("spec.clientIP.xffTrustedHops", "%d is out of range; 1..%d, the number of proxies in front of this Gateway that append to X-Forwarded-For (omit clientIP when there are none)", c.XFFTrustedHops, MaxXFFTrustedHops)
	}
	if header {
		validateTrustedHeader(o, "spec.clientIP.trustedHeader", c.TrustedHeader)
	}
}

func validateTrustedHeader(o *objErrs, p, h string) {
	lh := strings.ToLower(h)
	switch {
	case h == "":
		o.add(p, "required: the header the trusted proxy sets to the client's address")
	case strings.HasPrefix(h, ":"):
		o.add(p, "%q is a pseudo-header; name the header the trusted proxy sets", h)
	case !headerName(h):
		o.add(p, "%q is not a valid header name", h)
	case strings.Contains(h, "_"):
		// The connection manager rejects every request with an underscore
		// in a header name (headers_with_underscores_action:
		// REJECT_REQUEST), so this header could never arrive.
		o.add(p, "%q has an underscore; gateways reject headers with underscores, so it would never arrive", h)
	case lh == "x-forwarded-for":
		o.add(p, "x-forwarded-for holds a list, not one address; use xffTrustedHops instead")
	case strings.HasPrefix(lh, "x-gatehouse-"):
		o.add(p, "%q is a gatehouse header (x-gatehouse-*), set by the gateway itself", h)
	}
}
