package server

import (
	"fmt"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Small, valid resources standing in for the translator's output.

var adsSource = &corev3.ConfigSource{
	ResourceApiVersion:    corev3.ApiVersion_V3,
	ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

func hcm(rds string) *hcmv3.HttpConnectionManager {
	return &hcmv3.HttpConnectionManager{
		StatPrefix: "ingress",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: rds, ConfigSource: adsSource,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})},
		}},
	}
}

func testListener(name, rds string, port uint32) *listenerv3.Listener {
	return &listenerv3.Listener{
		Name: name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm(rds))},
		}}}},
	}
}

func testAPIListener(name, rds string) *listenerv3.Listener {
	return &listenerv3.Listener{Name: name, ApiListener: &listenerv3.ApiListener{ApiListener: mustAny(hcm(rds))}}
}

func testTLSListener(name, rds, secret string, port uint32) *listenerv3.Listener {
	l := testListener(name, rds, port)
	l.FilterChains[0].TransportSocket = &corev3.TransportSocket{
		Name: "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(&tlsv3.DownstreamTlsContext{
			CommonTlsContext: &tlsv3.CommonTlsContext{TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: secret, SdsConfig: adsSource}}},
		})},
	}
	return l
}

func testRoute(name string, clusters ...string) *routev3.RouteConfiguration {
	rc := &routev3.RouteConfiguration{Name: name}
	vh := &routev3.VirtualHost{Name: name, Domains: []string{"*"}}
	for _, c := range clusters {
		vh.Routes = append(vh.Routes, &routev3.Route{
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/" + c}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: c}}},
		})
	}
	rc.VirtualHosts = []*routev3.VirtualHost{vh}
	return rc
}

func testCluster(name, eds string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource, ServiceName: eds},
		ConnectTimeout:       durationpb.New(1e9),
	}
}

func testSecret(name string) *tlsv3.Secret {
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "cert " + name}},
		PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "key " + name}},
	}}}
}

// testCLA has n endpoints 127.0.0.1:base..base+n-1.
func testCLA(eds string, base, n int) *endpointv3.ClusterLoadAssignment {
	lle := &endpointv3.LocalityLbEndpoints{LoadBalancingWeight: wrapperspb.UInt32(1)}
	for i := range n {
		lle.LbEndpoints = append(lle.LbEndpoints, &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
				Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
					Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(base + i)},
				}}},
			}},
			LoadBalancingWeight: wrapperspb.UInt32(1),
		})
	}
	return &endpointv3.ClusterLoadAssignment{ClusterName: eds, Endpoints: []*endpointv3.LocalityLbEndpoints{lle}}
}

// fixture is one group with n clusters c000.. (EDS names c000-v1..), one
// listener and one route config naming them all, and its CLAs.
type fixture struct {
	key   translate.GroupKey
	group *translate.Group
	clas  map[string]*endpointv3.ClusterLoadAssignment
}

func clusterName(i int) string { return fmt.Sprintf("c%04d", i) }
func edsName(i int) string     { return clusterName(i) + "-v1" }

func newFixture(gw string, kind translate.ClientKind, n, endpoints int) *fixture {
	f := &fixture{
		key:   translate.GroupKey{Gateway: gw, Client: kind},
		group: &translate.Group{EDS: map[string]string{}},
		clas:  map[string]*endpointv3.ClusterLoadAssignment{},
	}
	names := make([]string, n)
	for i := range n {
		names[i] = clusterName(i)
		f.group.Clusters = append(f.group.Clusters, testCluster(names[i], edsName(i)))
		f.group.EDS[edsName(i)] = "svc-" + names[i]
		f.clas[edsName(i)] = testCLA(edsName(i), 10000, endpoints)
	}
	rds := gw + "-http"
	if kind == translate.ClientGRPC {
		f.group.Listeners = []types.Resource{testAPIListener(gw+".example", rds)}
	} else {
		f.group.Listeners = []types.Resource{testListener(gw+"-8080", rds, 8080)}
	}
	f.group.Routes = []types.Resource{testRoute(rds, names...)}
	return f
}

func (f *fixture) groups() map[translate.GroupKey]*translate.Group {
	return map[translate.GroupKey]*translate.Group{f.key: f.group}
}

// clone copies the group's slices and maps (not the resources), as a
// controller does when it changes part of a group.
func (f *fixture) clone() *fixture {
	g := *f.group
	g.Listeners = append([]types.Resource(nil), f.group.Listeners...)
	g.Routes = append([]types.Resource(nil), f.group.Routes...)
	g.Clusters = append([]types.Resource(nil), f.group.Clusters...)
	g.Secrets = append([]types.Resource(nil), f.group.Secrets...)
	g.EDS = make(map[string]string, len(f.group.EDS))
	for k, v := range f.group.EDS {
		g.EDS[k] = v
	}
	clas := make(map[string]*endpointv3.ClusterLoadAssignment, len(f.clas))
	for k, v := range f.clas {
		clas[k] = v
	}
	return &fixture{key: f.key, group: &g, clas: clas}
}

func mustPublish(t testing.TB, p *Publisher, groups map[translate.GroupKey]*translate.Group, clas map[string]*endpointv3.ClusterLoadAssignment) PublishStats {
	t.Helper()
	st, err := p.Publish(t.Context(), groups, clas, nil)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return st
}

func newTestPublisher(t testing.TB) *Publisher {
	t.Helper()
	p, err := NewPublisher(PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func nodeFor(gateway, userAgent string) *corev3.Node {
	return &corev3.Node{Id: gateway + "-node", Cluster: gateway, UserAgentName: userAgent}
}
