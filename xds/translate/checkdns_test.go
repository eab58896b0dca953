package translate

import (
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// dnsGroups translates the dns golden case: svc/catalog (STRICT_DNS),
// svc/partner-api (LOGICAL_DNS), svc/search (STRICT_DNS) for Envoy, EDS
// clusters for proxyless gRPC.
func dnsGroups(t *testing.T) (envoy, grpc *Group) {
	t.Helper()
	snap, _ := loadCase(t, filepath.Join("testdata", "in", "dns"))
	groups, err := Translate(snap, Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	return cloneGroup(groups[GroupKey{"public", ClientEnvoy}]), cloneGroup(groups[GroupKey{"public", ClientGRPC}])
}

// TestDNSClustersShape: Envoy resolves (DNS clusters with the name inline,
// no EDS name in the group), gRPC clients get EDS clusters gatehouse fills.
func TestDNSClustersShape(t *testing.T) {
	e, g := dnsGroups(t)
	for name, typ := range map[string]clusterv3.Cluster_DiscoveryType{"svc/catalog": clusterv3.Cluster_STRICT_DNS, "svc/partner-api": clusterv3.Cluster_LOGICAL_DNS, "svc/search": clusterv3.Cluster_STRICT_DNS} {
		c := clusterNamed(t, e, name)
		if c.GetType() != typ || !c.GetRespectDnsTtl() || c.GetEdsClusterConfig() != nil {
			t.Errorf("envoy %s: type %s, respect_dns_ttl %v, eds %v", name, c.GetType(), c.GetRespectDnsTtl(), c.GetEdsClusterConfig())
		}
		if gc := clusterNamed(t, g, name); gc.GetType() != clusterv3.Cluster_EDS {
			t.Errorf("grpc %s: type %s, want EDS (gatehouse resolves for proxyless clients)", name, gc.GetType())
		}
	}
	if len(e.EDS) != 0 {
		t.Errorf("the Envoy group asks for EDS names %v; Envoy resolves DNS clusters itself", e.EDS)
	}
	if len(g.EDS) != 3 {
		t.Errorf("the gRPC group's EDS names: %v, want 3", g.EDS)
	}
	if err := Check(e, nil); err != nil {
		t.Fatalf("Check: %v", err)
	}
	for _, c := range e.Clusters {
		if err := c.(*clusterv3.Cluster).ValidateAll(); err != nil {
			t.Errorf("ValidateAll: %v", err)
		}
	}
}

// TestCheckDNSClusterRules: each load-time rule Envoy enforces on a DNS
// cluster, broken on purpose, fails Check.
func TestCheckDNSClusterRules(t *testing.T) {
	sock := func(c *clusterv3.Cluster) *corev3.SocketAddress {
		return c.LoadAssignment.Endpoints[0].LbEndpoints[0].GetEndpoint().GetAddress().GetSocketAddress()
	}
	cases := []struct {
		name   string
		grpc   bool
		break_ func(c *clusterv3.Cluster, g *Group)
		want   string
	}{
		{"custom resolver name", false, func(c *clusterv3.Cluster, _ *Group) { sock(c).ResolverName = "envoy.resolvers.custom" },
			"must not have a custom resolver name"},
		{"named port", false, func(c *clusterv3.Cluster, _ *Group) {
			sock(c).PortSpecifier = &corev3.SocketAddress_NamedPort{NamedPort: "http"}
		}, "port_value 0"},
		{"no name", false, func(c *clusterv3.Cluster, _ *Group) { sock(c).Address = "" }, "without a name to resolve"},
		{"no endpoint", false, func(c *clusterv3.Cluster, _ *Group) { c.LoadAssignment.Endpoints = nil }, "without an endpoint to resolve"},
		{"EDS config on a DNS cluster", false, func(c *clusterv3.Cluster, _ *Group) {
			c.EdsClusterConfig = &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource(), ServiceName: "svc/catalog/x"}
		}, "eds_cluster_config set in a non-EDS cluster"},
		{"logical with two hosts", false, func(c *clusterv3.Cluster, _ *Group) {
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_LOGICAL_DNS}
			l := c.LoadAssignment.Endpoints[0]
			l.LbEndpoints = append(l.LbEndpoints, proto.Clone(l.LbEndpoints[0]).(*endpointv3.LbEndpoint))
		}, "exactly one locality with one endpoint"},
		{"locality-weighted without a weight", false, func(c *clusterv3.Cluster, _ *Group) {
			c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{}}}
		}, "a locality of weight 0"},
		{"a DNS cluster sent to proxyless gRPC", true, nil, "for a proxyless gRPC client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, g := dnsGroups(t)
			target := e
			if tc.grpc {
				target = g
			}
			c := clusterNamed(t, target, "svc/catalog")
			if tc.grpc {
				// The Envoy cluster (STRICT_DNS) in the gRPC group's place.
				target.Clusters[0] = proto.Clone(clusterNamed(t, e, "svc/catalog"))
			} else {
				tc.break_(c, target)
			}
			err := Check(target, nil)
			switch {
			case err == nil:
				t.Fatal("Check passed a cluster Envoy (or grpc-go) refuses")
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestCheckDNSClusterEdgesAccepted: the edges of the DNS rules Envoy
// accepts pass Check: a locality weight of 1 under locality-weighted
// balancing (only 0 gets no traffic), ports 1 and 65535.
func TestCheckDNSClusterEdgesAccepted(t *testing.T) {
	for name, edit := range map[string]func(c *clusterv3.Cluster){
		"locality weight 1": func(c *clusterv3.Cluster) {
			c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{}}}
			for _, l := range c.LoadAssignment.Endpoints {
				l.LoadBalancingWeight = wrapperspb.UInt32(1)
			}
		},
		"port 1": func(c *clusterv3.Cluster) {
			c.LoadAssignment.Endpoints[0].LbEndpoints[0].GetEndpoint().GetAddress().GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: 1}
		},
		"port 65535": func(c *clusterv3.Cluster) {
			c.LoadAssignment.Endpoints[0].LbEndpoints[0].GetEndpoint().GetAddress().GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: 65535}
		},
	} {
		t.Run(name, func(t *testing.T) {
			e, _ := dnsGroups(t)
			edit(clusterNamed(t, e, "svc/catalog"))
			if err := Check(e, nil); err != nil {
				t.Fatalf("Check refused what Envoy accepts: %v", err)
			}
		})
	}
}
