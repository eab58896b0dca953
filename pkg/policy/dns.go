package policy

import (
	"net/netip"
	"strings"
	"time"
)

// DNS discovery types and lookup families (discovery.dns).
const (
	DNSStrict  = "strict"  // every address the name resolves to is an endpoint
	DNSLogical = "logical" // one logical host: new connections go to the first address

	DNSFamilyAuto = "auto" // IPv6 if the name has AAAA records, else IPv4 (Envoy's AUTO)
	DNSFamilyV4   = "v4"
	DNSFamilyV6   = "v6"
	DNSFamilyAll  = "all" // both
)

// DNSDiscovery resolves a host name. Envoy resolves it itself (a STRICT_DNS
// or LOGICAL_DNS cluster); for proxyless gRPC clients gatehouse resolves it
// and serves the addresses over EDS (docs/discovery.md).
type DNSDiscovery struct {
	Name string `yaml:"name"` // the host name to resolve, e.g. api.internal.example
	Port int    `yaml:"port"` // the port of every resolved address
	// Type is strict (default) or logical.
	Type string `yaml:"type"`
	// LookupFamily is auto (default), v4, v6 or all.
	LookupFamily string `yaml:"lookupFamily"`
	// RefreshRate is how often the name is resolved again when its records
	// carry no TTL (a TTL, when given, is respected); default 5s, Envoy's.
	RefreshRate Duration `yaml:"refreshRate"`
}

// DefaultDNSRefreshRate is Envoy's dns_refresh_rate default
// (source/extensions/clusters/strict_dns/strict_dns_cluster.cc, 5000 ms).
const DefaultDNSRefreshRate = 5 * time.Second

// minDNSRefreshRate: Envoy refuses a dns_refresh_rate under 1 ms
// (api/envoy/config/cluster/v3/cluster.proto, gt: {nanos: 1000000}); a
// rate under a second would hammer the resolver anyway.
const minDNSRefreshRate = time.Second

// TypeOrDefault is the cluster type: strict unless logical is asked for.
func (d DNSDiscovery) TypeOrDefault() string {
	if d.Type == "" {
		return DNSStrict
	}
	return d.Type
}

// FamilyOrDefault is the lookup family: auto unless given.
func (d DNSDiscovery) FamilyOrDefault() string {
	if d.LookupFamily == "" {
		return DNSFamilyAuto
	}
	return d.LookupFamily
}

// RefreshOrDefault is the refresh rate used when a record has no TTL.
func (d DNSDiscovery) RefreshOrDefault() time.Duration {
	if d.RefreshRate <= 0 {
		return DefaultDNSRefreshRate
	}
	return d.RefreshRate.D()
}

func validateDNS(o *objErrs, p string, sp *ServiceSpec) {
	d := sp.Discovery.DNS
	switch name := strings.TrimSuffix(d.Name, "."); {
	case d.Name == "":
		o.add(p+".name", "required: the host name to resolve")
	case isIP(d.Name):
		o.add(p+".name", "%q is an IP address, not a host name: list it under discovery.static instead", d.Name)
	case !dnsName(name) || strings.Trim(name, "0123456789.") == "":
		o.add(p+".name", "%q is not a host name (lowercase letters, digits, '-' and dots; no port, scheme or wildcard)", d.Name)
	}
	if d.Port < 1 || d.Port > 65535 {
		if !o.has(p + ".port") {
			o.add(p+".port", "required: the port of the resolved addresses (1..65535)")
		} else {
			o.add(p+".port", "%d is out of range; a port is 1..65535", d.Port)
		}
	}
	if !oneOf(d.Type, "", DNSStrict, DNSLogical) {
		o.add(p+".type", "%q is not a DNS discovery type; one of strict (every address is an endpoint), logical (one host, the first address)", d.Type)
	}
	if !oneOf(d.LookupFamily, "", DNSFamilyAuto, DNSFamilyV4, DNSFamilyV6, DNSFamilyAll) {
		o.add(p+".lookupFamily", "%q is not a lookup family; one of auto, v4, v6, all", d.LookupFamily)
	}
	if o.has(p+".refreshRate") && d.RefreshRate.D() < minDNSRefreshRate {
		o.add(p+".refreshRate", "%s is too short; at least %s", d.RefreshRate.D(), minDNSRefreshRate)
	}
	if d.Type != DNSLogical {
		return
	}
	// A LOGICAL_DNS cluster has exactly one host (Envoy:
	// source/extensions/clusters/logical_dns/logical_dns_cluster.cc, "must
	// have a single host") whose address changes under it: balancing by a
	// hash, or ejecting the one host, has nothing to choose between. It is
	// meant for web services behind a large DNS pool reached over pooled
	// HTTP connections.
	if lb := sp.LoadBalancer; lb != nil && (lb.Policy == LBRingHash || lb.Policy == LBMaglev) {
		o.add("spec.loadBalancer.policy", "%s with dns type logical: a logical DNS cluster has one host, so there is nothing to hash across; use type strict", lb.Policy)
	}
	if sp.OutlierDetection != nil {
		o.add("spec.outlierDetection", "not with dns type logical: the one logical host would be ejected whole; use type strict to eject single addresses")
	}
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}
