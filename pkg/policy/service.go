package policy

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"strings"
)

// Envoy endpoint weights are >= 1; 128 keeps locality weight sums (the sum of
// endpoint weights) far from uint32 overflow.
const maxEndpointWeight = 128

func validateService(files *fileReader, o *objErrs, s *Service) {
	sp := &s.Spec
	if !oneOf(sp.Protocol, "", ServiceHTTP, ServiceHTTP2, ServiceGRPC) {
		o.add("spec.protocol", "%q is not a service protocol; one of HTTP, HTTP2, GRPC", sp.Protocol)
	}
	validateDiscovery(o, &sp.Discovery)
	if sp.Discovery.DNS != nil {
		validateDNS(o, "spec.discovery.dns", sp)
	}
	if lb := sp.LoadBalancer; lb != nil {
		lbs := []string{LBRoundRobin, LBLeastRequest, LBRandom, LBRingHash, LBMaglev}
		if !oneOf(lb.Policy, append(lbs, "")...) {
			o.add("spec.loadBalancer.policy", "%q is not a load-balancing policy; one of %s", lb.Policy, strings.Join(lbs, ", "))
		}
		if h := lb.HashOn; h != nil {
			p := "spec.loadBalancer.hashOn"
			if lb.Policy != LBRingHash && lb.Policy != LBMaglev {
				o.add(p, "only allowed with policy RING_HASH or MAGLEV")
			}
			if countSet(h.Header != "", h.Cookie != "", h.SourceIP) != 1 {
				o.add(p, "set exactly one of header, cookie, sourceIP: true")
			}
			if h.Header != "" && (!headerName(h.Header) || strings.HasPrefix(h.Header, ":")) {
				o.add(p+".header", "%q is not a valid HTTP header name", h.Header)
			}
			if h.Cookie != "" && !headerName(h.Cookie) {
				o.add(p+".cookie", "%q is not a valid cookie name", h.Cookie)
			}
		}
	}
	positiveDuration(o, "spec.connectTimeout", sp.ConnectTimeout)
	if o.has("spec.tls") && sp.TLS == nil {
		o.add("spec.tls", "empty: set sni (the DNS name the upstream's certificate must carry) and/or caFile, or remove tls for plaintext")
	}
	if t := sp.TLS; t != nil {
		// Without a name and a CA of its own, TLS would accept any
		// certificate a public CA signed, for any host: it would verify
		// nothing about who the upstream is.
		if t.SNI == "" && !o.has("spec.tls.caFile") {
			o.add("spec.tls", "verifies nothing: set sni (the DNS name the upstream's certificate must carry, checked against the system CA bundle) and/or caFile (the CA that signs the upstream's certificate)")
		}
		if t.SNI != "" && !dnsName(t.SNI) {
			o.add("spec.tls.sni", "%q is not a valid DNS name", t.SNI)
		}
		if o.has("spec.tls.caFile") {
			if pem, _, ok := files.readRelative(o, "spec.tls.caFile", s.File, t.CAFile); ok {
				if !x509.NewCertPool().AppendCertsFromPEM(pem) {
					o.add("spec.tls.caFile", "%s holds no PEM certificate", t.CAFile)
				} else {
					t.CAPEM = pem
				}
			}
		}
	}
	if cb := sp.CircuitBreaker; cb != nil {
		uint32Field(o, "spec.circuitBreaker.maxConnections", cb.MaxConnections, 1)
		uint32Field(o, "spec.circuitBreaker.maxPendingRequests", cb.MaxPendingRequests, 1)
		uint32Field(o, "spec.circuitBreaker.maxRequests", cb.MaxRequests, 1)
		uint32Field(o, "spec.circuitBreaker.maxRetries", cb.MaxRetries, 0)
		validateRetryBudget(o, cb)
	}
	if od := sp.OutlierDetection; od != nil {
		uint32Field(o, "spec.outlierDetection.consecutive5xx", od.Consecutive5xx, 1)
		positiveDuration(o, "spec.outlierDetection.interval", od.Interval)
		positiveDuration(o, "spec.outlierDetection.baseEjectionTime", od.BaseEjectionTime)
		if od.MaxEjectionPercent < 0 || od.MaxEjectionPercent > 100 {
			o.add("spec.outlierDetection.maxEjectionPercent", "%d is out of range; 0..100", od.MaxEjectionPercent)
		}
	}
	if hc := sp.HealthCheck; hc != nil {
		validateHealthCheck(o, hc)
	}
	validateValidation(files, o, "spec.validation", s.File, sp.Validation, false)
}

func validateDiscovery(o *objErrs, d *Discovery) {
	p := "spec.discovery"
	if countSet(d.Consul != nil, d.DNS != nil, d.Eureka != nil, d.Kubernetes != nil, d.Static != nil) != 1 {
		o.add(p, "set exactly one of consul, dns, eureka, kubernetes, static")
	}
	if e := d.Eureka; e != nil {
		validateEureka(o, p+".eureka", e)
	}
	if k := d.Kubernetes; k != nil {
		validateKubernetes(o, p+".kubernetes", k)
	}
	if c := d.Consul; c != nil {
		if c.Service == "" {
			o.add(p+".consul.service", "required: the Consul service name")
		}
		for i, t := range c.Tags {
			if t == "" {
				o.add(fmt.Sprintf("%s.consul.tags[%d]", p, i), "must not be empty")
			}
		}
	}
	if d.Static != nil && len(d.Static) == 0 {
		o.add(p+".static", "list at least one endpoint")
	}
	seen := map[string]string{}
	for i, e := range d.Static {
		ep := fmt.Sprintf("%s.static[%d]", p, i)
		staticAddress(o, ep+".address", e.Address)
		if e.Port < 1 || e.Port > 65535 {
			o.add(ep+".port", "%d is out of range; a port is 1..65535", e.Port)
		}
		if o.has(ep+".weight") && (e.Weight < 1 || e.Weight > maxEndpointWeight) {
			o.add(ep+".weight", "%d is out of range; an endpoint weight is 1..%d (default 1)", e.Weight, maxEndpointWeight)
		}
		key := fmt.Sprintf("%s:%d", strings.ToLower(e.Address), e.Port)
		if first, dup := seen[key]; dup {
			o.add(ep, "duplicate endpoint %s (also %s)", key, first)
		} else {
			seen[key] = ep
		}
	}
}

// staticAddress: a static endpoint must be an IP address. Static
// endpoints reach Envoy over EDS (and proxyless gRPC clients the same
// way), which takes IP addresses only and refuses the whole update
// otherwise (Envoy: source/common/network/resolver_impl.cc, "malformed IP
// address"). A DNS name would need a STRICT_DNS cluster (what Envoy
// Gateway emits for FQDN backends: internal/xds/translator/cluster.go),
// which grpc-go does not implement.
func staticAddress(o *objErrs, p, a string) {
	if ip, err := netip.ParseAddr(a); err == nil && ip.Zone() == "" {
		return
	}
	// All digits and dots: a malformed IPv4 address (10.0.0.010), not a name.
	if validAddress(a) && strings.Trim(a, "0123456789.") != "" {
		o.add(p, "static endpoint addresses must be IP addresses; %q is a DNS name, which Envoy's EDS does not resolve: give its IP address, or use dns discovery", a)
		return
	}
	o.add(p, "static endpoint addresses must be IP addresses (without a zone); %q is not one", a)
}

func validateHealthCheck(o *objErrs, hc *HealthCheck) {
	p := "spec.healthCheck"
	if countSet(hc.HTTP != nil, hc.GRPC != nil, hc.TCP != nil) != 1 {
		o.add(p, "set exactly one of http, grpc, tcp")
	}
	if h := hc.HTTP; h != nil {
		if !strings.HasPrefix(h.Path, "/") {
			o.add(p+".http.path", "%q must start with /", h.Path)
		}
		if h.Host != "" && !dnsName(h.Host) {
			o.add(p+".http.host", "%q is not a valid hostname", h.Host)
		}
	}
	for _, f := range []struct {
		name string
		d    Duration
	}{{"interval", hc.Interval}, {"timeout", hc.Timeout}} {
		if f.d <= 0 {
			o.add(p+"."+f.name, "required and must be greater than 0")
		}
	}
	uint32Field(o, p+".unhealthyThreshold", hc.UnhealthyThreshold, 1)
	uint32Field(o, p+".healthyThreshold", hc.HealthyThreshold, 1)
}

// uint32Field: when present, v must be within min..2^32-1 (Envoy's uint32).
func uint32Field(o *objErrs, p string, v, min int) {
	if o.has(p) && (v < min || int64(v) > maxUint32) {
		o.add(p, "%d is out of range; %d..%d", v, min, int64(maxUint32))
	}
}
