package translate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
)

// dnsClusterRules: what Envoy requires of a STRICT_DNS or LOGICAL_DNS
// cluster at load time, and what grpc-go can read.
//   - No custom resolver_name on an endpoint: both factories refuse it
//     ("... clusters must NOT have a custom resolver name set";
//     source/extensions/clusters/{strict_dns,logical_dns}/*_cluster.cc).
//   - A port number on every endpoint: both resolve socket_address.address
//     and take port_value (a named_port resolves to 0: a host on port 0).
//   - A name to resolve on every endpoint.
//   - With locality-weighted balancing, a weight on every inline locality:
//     a locality's share is its load_balancing_weight times its
//     availability, so an unset weight (0) gets no traffic (Envoy docs:
//     intro/arch_overview/upstream/load_balancing/locality_weight.rst,
//     effective_weight).
//   - No STRICT_DNS for proxyless gRPC clients: grpc-go NACKs it
//     (internal/xds/xdsclient/xdsresource/unmarshal_cds.go, "unsupported
//     cluster type"). It takes LOGICAL_DNS (resolved by its own DNS
//     resolver, which ignores TTLs), but for discovery.dns gatehouse
//     resolves the name for them and serves EDS (setDNS).
func (c *checker) dnsClusterRules(cl *clusterv3.Cluster) {
	name := cl.GetName()
	if !c.envoy && cl.GetType() == clusterv3.Cluster_STRICT_DNS {
		c.fail("cluster %s: a STRICT_DNS cluster for a proxyless gRPC client, which refuses it (gatehouse resolves DNS for them and serves EDS)", name)
	}
	n := 0
	weighted := cl.GetCommonLbConfig().GetLocalityWeightedLbConfig() != nil
	for _, la := range cl.GetLoadAssignment().GetEndpoints() {
		if weighted && la.GetLoadBalancingWeight().GetValue() < 1 {
			c.fail("cluster %s: locality-weighted balancing with a locality of weight 0: it would get no traffic", name)
		}
		for _, e := range la.GetLbEndpoints() {
			n++
			sa := e.GetEndpoint().GetAddress().GetSocketAddress()
			if sa.GetResolverName() != "" {
				c.fail("cluster %s: %s clusters must not have a custom resolver name (%q)", name, cl.GetType(), sa.GetResolverName())
			}
			if sa.GetAddress() == "" {
				c.fail("cluster %s: %s endpoint without a name to resolve", name, cl.GetType())
			}
			if p := sa.GetPortValue(); p < 1 || p > 65535 {
				c.fail("cluster %s: %s endpoint %q: port_value %d (a named port or none resolves to port 0)", name, cl.GetType(), sa.GetAddress(), p)
			}
		}
	}
	if n == 0 {
		c.fail("cluster %s: a %s cluster without an endpoint to resolve never has a host", name, cl.GetType())
	}
}
