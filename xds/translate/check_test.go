package translate

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// validGroups translates a small policy with HTTPS (so every reference kind
// occurs) and returns fresh, unchecked copies of its two groups.
func validGroups(t *testing.T) (envoy, grpc *Group) {
	t.Helper()
	p := bigSnapshot(t, 6, 12, 3)
	groups, err := Translate(p, Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	return cloneGroup(groups[GroupKey{"public", ClientEnvoy}]), cloneGroup(groups[GroupKey{"public", ClientGRPC}])
}

// cloneGroup deep-copies a group and drops Translate's "checked" mark, so
// that a test may break it and Check looks at everything.
func cloneGroup(g *Group) *Group {
	cp := func(rs []types.Resource) []types.Resource {
		out := make([]types.Resource, len(rs))
		for i, r := range rs {
			out[i] = proto.Clone(r)
		}
		return out
	}
	eds := make(map[string]string, len(g.EDS))
	for k, v := range g.EDS {
		eds[k] = v
	}
	return &Group{Listeners: cp(g.Listeners), Routes: cp(g.Routes), Clusters: cp(g.Clusters), Secrets: cp(g.Secrets), EDS: eds, Key: g.Key}
}

func clasOf(g *Group) map[string]*endpointv3.ClusterLoadAssignment {
	out := map[string]*endpointv3.ClusterLoadAssignment{}
	for eds := range g.EDS {
		out[eds] = Endpoints(eds, "", nil)
	}
	return out
}

// hcmOf decodes, edits and re-encodes the first connection manager of a
// listener (filter chain or api_listener).
func editHCM(t *testing.T, l *listenerv3.Listener, edit func(*hcmv3.HttpConnectionManager)) {
	t.Helper()
	var a *anypb.Any
	if al := l.GetApiListener(); al != nil {
		a = al.GetApiListener()
	} else {
		fs := l.GetFilterChains()[0].GetFilters()
		a = fs[len(fs)-1].GetTypedConfig() // after the connection limit
	}
	h := &hcmv3.HttpConnectionManager{}
	if err := a.UnmarshalTo(h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	if err := a.MarshalFrom(h); err != nil {
		t.Fatal(err)
	}
}

func firstRoute(g *Group) *routev3.Route {
	for _, r := range g.Routes {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			if len(vh.Routes) > 0 {
				return vh.Routes[0]
			}
		}
	}
	return nil
}

func TestCheckAcceptsTranslatorOutput(t *testing.T) {
	e, g := validGroups(t)
	for _, grp := range []*Group{e, g} {
		if err := Check(grp, clasOf(grp)); err != nil {
			t.Errorf("%s: %v", grp.Key, err)
		}
	}
}

func TestCheckDetects(t *testing.T) {
	router := func() *hcmv3.HttpFilter {
		return &hcmv3.HttpFilter{Name: filterRouter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})}}
	}
	cases := []struct {
		name   string
		grpc   bool
		clas   bool // pass endpoints to Check
		break_ func(t *testing.T, g *Group)
		want   string
	}{
		{name: "ValidateAll failure", break_: func(t *testing.T, g *Group) {
			g.Clusters[0].(*clusterv3.Cluster).ConnectTimeout = durationpb.New(-1)
		}, want: "invalid"},
		{name: "ValidateAll failure in a route", break_: func(t *testing.T, g *Group) {
			firstRoute(g).Match = nil
		}, want: "invalid"},
		{name: "ValidateAll failure in a virtual host", break_: func(t *testing.T, g *Group) {
			g.Routes[0].(*routev3.RouteConfiguration).VirtualHosts[0].Domains = nil
		}, want: "invalid"},
		{name: "unregistered Any type", break_: func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters[0].ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: &anypb.Any{TypeUrl: "type.googleapis.com/example.Unknown"}}
			})
		}, want: "not a registered Envoy message"},
		{name: "type not allowed at extension point", break_: func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters[0].ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&tlsv3.UpstreamTlsContext{})}
			})
		}, want: "not allowed at HTTP filter"},
		{name: "upstream transport socket of the wrong type", break_: func(t *testing.T, g *Group) {
			g.Clusters[0].(*clusterv3.Cluster).TransportSocket = &corev3.TransportSocket{Name: transportSocketTLS, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(&tlsv3.DownstreamTlsContext{})}}
		}, want: "not allowed at upstream transport socket"},
		{name: "router not last", break_: func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				n := len(h.HttpFilters)
				h.HttpFilters[0], h.HttpFilters[n-1] = h.HttpFilters[n-1], h.HttpFilters[0]
			})
		}, want: "router must be the last"},
		{name: "no router", break_: func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters = h.HttpFilters[:1]
			})
		}, want: "exactly one router"},
		{name: "two routers", break_: func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				r2 := router()
				r2.Name = "second-router"
				h.HttpFilters = append(h.HttpFilters, r2)
			})
		}, want: "router must be the last"},
		{name: "duplicate filter name", break_: func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters[0].Name = filterRouter
			})
		}, want: "duplicate filter name"},
		{name: "per-route config naming no filter", break_: func(t *testing.T, g *Group) {
			firstRoute(g).TypedPerFilterConfig = map[string]*anypb.Any{"envoy.filters.http.ext_authz": mustAny(&headermutationv3.HeaderMutationPerRoute{})}
		}, want: "names no HTTP filter"},
		{name: "per-route config of a disallowed type", break_: func(t *testing.T, g *Group) {
			firstRoute(g).TypedPerFilterConfig = map[string]*anypb.Any{filterHeaderMutation: mustAny(&routerv3.Router{})}
		}, want: "not allowed at per-route filter config"},
		{name: "route to a missing cluster", break_: func(t *testing.T, g *Group) {
			firstRoute(g).GetRoute().ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: "svc/nope"}
		}, want: `cluster "svc/nope" does not exist`},
		{name: "weighted cluster missing", break_: func(t *testing.T, g *Group) {
			firstRoute(g).GetRoute().ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
				{Name: "svc/svc-0000", Weight: wrapperspb.UInt32(1)}, {Name: "svc/gone", Weight: wrapperspb.UInt32(1)},
			}}}
		}, want: `weighted cluster "svc/gone" does not exist`},
		{name: "listener names a missing route config", break_: func(t *testing.T, g *Group) {
			g.Routes = g.Routes[1:]
		}, want: "does not exist"},
		{name: "grpc api_listener names a missing route config", grpc: true, break_: func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.GetRds().RouteConfigName = "grpc/public/missing"
			})
		}, want: `route config "grpc/public/missing" does not exist`},
		{name: "missing SDS secret", break_: func(t *testing.T, g *Group) {
			g.Secrets = nil
		}, want: `secret "tls/public/https" does not exist`},
		{name: "EDS name not in the EDS map", break_: func(t *testing.T, g *Group) {
			g.Clusters[0].(*clusterv3.Cluster).EdsClusterConfig.ServiceName = "svc/svc-0000/deadbeef"
		}, want: "is not in the group's EDS map"},
		{name: "EDS name without a CLA", clas: true, break_: func(t *testing.T, g *Group) {
			g.EDS["svc/extra/00000000"] = "extra"
			g.Clusters[0].(*clusterv3.Cluster).EdsClusterConfig.ServiceName = "svc/extra/00000000"
		}, want: "no ClusterLoadAssignment"},
		{name: "duplicate cluster", break_: func(t *testing.T, g *Group) {
			g.Clusters = append(g.Clusters, proto.Clone(g.Clusters[0]))
		}, want: "duplicate name"},
		{name: "duplicate listener", grpc: true, break_: func(t *testing.T, g *Group) {
			g.Listeners = append(g.Listeners, proto.Clone(g.Listeners[0]))
		}, want: "duplicate name"},
		{name: "protocol options under the wrong key", break_: func(t *testing.T, g *Group) {
			g.Clusters[1].(*clusterv3.Cluster).TypedExtensionProtocolOptions = map[string]*anypb.Any{"envoy.other": anyH2Explicit}
		}, want: `protocol options key "envoy.other"`},
		{name: "load balancing policy not allowed", grpc: true, break_: func(t *testing.T, g *Group) {
			g.Clusters[0].(*clusterv3.Cluster).LoadBalancingPolicy = lbPolicyList("x", mustAny(&routerv3.Router{}))
		}, want: "not allowed at load balancing policy"},
		{name: "wrong resource type", break_: func(t *testing.T, g *Group) {
			g.Routes = append(g.Routes, &clusterv3.Cluster{Name: "zzz"})
		}, want: "unexpected type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, g := validGroups(t)
			grp := e
			if tc.grpc {
				grp = g
			}
			tc.break_(t, grp)
			var clas map[string]*endpointv3.ClusterLoadAssignment
			if tc.clas {
				clas = map[string]*endpointv3.ClusterLoadAssignment{}
			}
			err := Check(grp, clas)
			if err == nil {
				t.Fatal("Check passed a broken group")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "gateway public (") {
				t.Errorf("error %q does not name the gateway", err)
			}
		})
	}
}

func TestCheckCLA(t *testing.T) {
	bad := []*endpointv3.ClusterLoadAssignment{
		{ClusterName: ""},
		{ClusterName: "x", Endpoints: []*endpointv3.LocalityLbEndpoints{{LoadBalancingWeight: wrapperspb.UInt32(1)}}},
		{ClusterName: "x", Endpoints: []*endpointv3.LocalityLbEndpoints{{Locality: &corev3.Locality{}}}},
		Endpoints("x", "", nil),
	}
	bad[3] = Endpoints("x", "", nil)
	bad[3].Endpoints = []*endpointv3.LocalityLbEndpoints{{Locality: &corev3.Locality{}, LoadBalancingWeight: wrapperspb.UInt32(1), LbEndpoints: []*endpointv3.LbEndpoint{{}}}}
	// A host name, as static discovery allows: Envoy's EDS takes IPs only.
	bad = append(bad, Endpoints("x", "", []registry.Endpoint{{Address: "backend.internal", Port: 80, Weight: 1}}))
	if err := checkCLA(Endpoints("x", "", []registry.Endpoint{{Address: "2001:db8::1", Port: 80, Weight: 1}})); err != nil {
		t.Errorf("checkCLA refused an IPv6 endpoint: %v", err)
	}
	// Priorities with a gap (0 and 2) or none at 0: grpc-go NACKs them.
	twoZones := []registry.Endpoint{{Address: "10.0.0.1", Port: 80, Weight: 1, Zone: "a"}, {Address: "10.0.0.2", Port: 80, Weight: 1, Zone: "b"}}
	gap := Endpoints("x", "a", twoZones)
	gap.Endpoints[1].Priority = 2
	noZero := Endpoints("x", "a", twoZones)
	noZero.Endpoints[0].Priority = 1
	huge := Endpoints("x", "", twoZones[:1])
	huge.Endpoints[0].Priority = 64
	bad = append(bad, gap, noZero, huge)
	if err := checkCLA(Endpoints("x", "a", twoZones)); err != nil {
		t.Errorf("checkCLA refused priorities 0 and 1: %v", err)
	}
	for i, cla := range bad {
		if err := checkCLA(cla); err == nil {
			t.Errorf("case %d: checkCLA passed %v", i, cla)
		}
	}
}

// TestCheckCLAPortBounds: an endpoint port outside 1..65535 never reaches
// a proxy; the bounds themselves are valid ports.
func TestCheckCLAPortBounds(t *testing.T) {
	for port, ok := range map[uint32]bool{0: false, 1: true, 65535: true, 65536: false} {
		cla := Endpoints("x", "", []registry.Endpoint{{Address: "10.0.0.1", Port: 80, Weight: 1}})
		cla.Endpoints[0].LbEndpoints[0].GetEndpoint().GetAddress().GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: port}
		if err := checkCLA(cla); (err == nil) != ok {
			t.Errorf("port %d: checkCLA = %v, want ok=%v", port, err, ok)
		}
	}
}

// TestCheckCLAEndpointWeight: an endpoint weight of 0 never reaches a
// proxy (Envoy's LbEndpoint.load_balancing_weight is at least 1; the
// whole assignment would be refused); an endpoint without one (Envoy's
// default, 1) and weight 1 pass.
func TestCheckCLAEndpointWeight(t *testing.T) {
	for name, tc := range map[string]struct {
		w  *wrapperspb.UInt32Value
		ok bool
	}{"unset": {nil, true}, "0": {wrapperspb.UInt32(0), false}, "1": {wrapperspb.UInt32(1), true}} {
		cla := Endpoints("x", "", []registry.Endpoint{{Address: "10.0.0.1", Port: 80, Weight: 1}})
		cla.Endpoints[0].LbEndpoints[0].LoadBalancingWeight = tc.w
		if err := checkCLA(cla); (err == nil) != tc.ok {
			t.Errorf("endpoint weight %s: checkCLA = %v, want ok=%v", name, err, tc.ok)
		}
	}
}
