package fleet

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The fleet's configuration: one gateway with one listener, one route
// configuration routing a path prefix to each Service, and per Service an
// EDS cluster and its ClusterLoadAssignment. Both servers serve these very
// resources.

const (
	fleetGateway = "fleet"
	routeName    = "fleet-http"
	listenerName = "fleet-8080"
	// basePort is the first endpoint port; a change moves one Service's
	// endpoints to changedPort + i.
	basePort    = 10000
	changedPort = 20000
)

var adsSource = &corev3.ConfigSource{
	ResourceApiVersion:    corev3.ApiVersion_V3,
	ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
}

func clusterName(i int) string { return fmt.Sprintf("svc-%04d", i) }
func edsName(i int) string     { return clusterName(i) + "-eds" }

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

// fleetConfig is the resources for services Services of endpoints
// endpoints each, sorted by name within each type.
type fleetConfig struct {
	listeners, routes, clusters []types.Resource
	clas                        []*endpointv3.ClusterLoadAssignment // by Service index
}

func newFleetConfig(services, endpoints int) *fleetConfig {
	c := &fleetConfig{clas: make([]*endpointv3.ClusterLoadAssignment, services)}
	vh := &routev3.VirtualHost{Name: routeName, Domains: []string{"*"}}
	for i := range services {
		c.clusters = append(c.clusters, &clusterv3.Cluster{
			Name:                 clusterName(i),
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
			EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource, ServiceName: edsName(i)},
			ConnectTimeout:       durationpb.New(1e9),
		})
		c.clas[i] = cla(edsName(i), basePort, endpoints)
		vh.Routes = append(vh.Routes, &routev3.Route{
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/" + clusterName(i) + "/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: clusterName(i)}}},
		})
	}
	c.routes = []types.Resource{&routev3.RouteConfiguration{Name: routeName, VirtualHosts: []*routev3.VirtualHost{vh}}}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix:     "ingress",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: routeName, ConfigSource: adsSource}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})},
		}},
	}
	c.listeners = []types.Resource{&listenerv3.Listener{
		Name: listenerName,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)},
		}}}},
	}}
	return c
}

// cla has n endpoints 127.0.0.1:base..base+n-1.
func cla(name string, base, n int) *endpointv3.ClusterLoadAssignment {
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
	return &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{lle}}
}

// changeFor says what change number k does: Service k%services gets
// endpoints from firstPort on, a port range no earlier change used for it,
// so that every change is a real content change.
func changeFor(services, endpoints, k int) (svc, firstPort int) {
	return k % services, changedPort + (k/services*endpoints)%20000
}
