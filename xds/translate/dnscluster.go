package translate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// dnsLookupFamily maps discovery.dns.lookupFamily onto Envoy's enum.
var dnsLookupFamily = map[string]clusterv3.Cluster_DnsLookupFamily{
	policy.DNSFamilyAuto: clusterv3.Cluster_AUTO,
	policy.DNSFamilyV4:   clusterv3.Cluster_V4_ONLY,
	policy.DNSFamilyV6:   clusterv3.Cluster_V6_ONLY,
	policy.DNSFamilyAll:  clusterv3.Cluster_ALL,
}

// setDNS turns an Envoy cluster of a Service with discovery.dns into a
// STRICT_DNS or LOGICAL_DNS cluster: Envoy resolves the name itself, so
// the cluster carries its one host inline (load_assignment) and no EDS
// config (Envoy refuses eds_cluster_config on a non-EDS cluster:
// source/common/upstream/upstream_impl.cc, "eds_cluster_config set in a
// non-EDS cluster"). A LOGICAL_DNS cluster must have exactly one
// locality with one endpoint, and neither type accepts a custom
// resolver_name (source/extensions/clusters/logical_dns/logical_dns_cluster.cc,
// source/extensions/clusters/strict_dns/strict_dns_cluster.cc); Check
// holds both.
//
// respect_dns_ttl makes Envoy re-resolve when the records' TTL ends (the
// smallest TTL of the answer for STRICT_DNS, the first record's for
// LOGICAL_DNS), dns_refresh_rate when they carry none (same files). These
// cluster fields are deprecated in favour of the envoy.cluster.dns
// extension (cluster_type), which older Envoys lack; Envoy 1.36 reads
// both, so the long-standing fields are used.
//
// Proxyless gRPC clients get an EDS cluster instead: grpc-go implements
// no STRICT_DNS, so gatehouse resolves the name (pkg/registry/dns).
func setDNS(c *clusterv3.Cluster, d *policy.DNSDiscovery) {
	c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
	if d.TypeOrDefault() == policy.DNSLogical {
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_LOGICAL_DNS}
	}
	c.EdsClusterConfig = nil
	// One locality, nothing to weight: with locality-weighted balancing a
	// locality without load_balancing_weight would get no traffic at all
	// (Check: dnsClusterRules).
	c.CommonLbConfig = nil
	c.RespectDnsTtl = true
	c.DnsLookupFamily = dnsLookupFamily[d.FamilyOrDefault()]
	c.DnsRefreshRate = durationpb.New(d.RefreshOrDefault())
	c.LoadAssignment = &endpointv3.ClusterLoadAssignment{
		ClusterName: c.Name,
		Endpoints: []*endpointv3.LocalityLbEndpoints{{
			LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address:       d.Name,
						PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(d.Port)},
					}}},
				}},
			}},
		}},
	}
}
