package server

import (
	"slices"
	"strings"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// quiet is how long a test waits to show that nothing (more) is sent.
const quiet = 300 * time.Millisecond

// subscribeAll walks an Envoy through LDS, CDS, EDS and RDS, ACKing each.
func subscribeAll(t *testing.T, a *adsStream, f *fixture) (lds, cds, eds, rds *discoveryv3.DiscoveryResponse) {
	t.Helper()
	a.send(resource.ListenerType, nil, "", "")
	lds = a.recv(resource.ListenerType)
	a.ack(lds, nil)
	a.send(resource.ClusterType, nil, "", "")
	cds = a.recv(resource.ClusterType)
	a.ack(cds, nil)
	edsNames := slices.Sorted(func(yield func(string) bool) {
		for n := range f.group.EDS {
			if !yield(n) {
				return
			}
		}
	})
	a.send(resource.EndpointType, edsNames, "", "")
	eds = a.recv(resource.EndpointType)
	a.ack(eds, edsNames)
	a.send(resource.RouteType, []string{f.key.Gateway + "-http"}, "", "")
	rds = a.recv(resource.RouteType)
	a.ack(rds, []string{f.key.Gateway + "-http"})
	return lds, cds, eds, rds
}

func TestADSAckNackAndEndpointOnlyChange(t *testing.T) {
	h, f := published(t, 3, 2)
	v := versionsOf(t, h.pub, f.key)

	a := h.open(t, "envoy-1", "gw", "envoy")
	a.send(resource.ListenerType, nil, "", "")
	lds := a.recv(resource.ListenerType)
	if lds.GetVersionInfo() != v[TypeListeners] || lds.GetNonce() == "" {
		t.Fatalf("LDS version %q nonce %q, want version %q and a nonce", lds.GetVersionInfo(), lds.GetNonce(), v[TypeListeners])
	}
	a.ack(lds, nil)
	waitFor(t, "LDS ACK recorded", func() bool {
		p, _ := h.proxy("envoy-1")
		ts := p.Types[TypeListeners]
		return ts.Sent == v[TypeListeners] && ts.Acked == ts.Sent
	})
	p, _ := h.proxy("envoy-1")
	if p.Gateway != "gw" || p.Client != "envoy" || p.UserAgent != "envoy/1.0" || !strings.HasPrefix(p.Address, "127.0.0.1:") || p.Note != "" || p.ConnectedSince.IsZero() {
		t.Errorf("proxy status = %+v", p)
	}

	// The rest of the types, then an endpoint-only change: only EDS moves.
	a.send(resource.ClusterType, nil, "", "")
	cds := a.recv(resource.ClusterType)
	a.ack(cds, nil)
	edsNames := []string{edsName(0), edsName(1), edsName(2)}
	a.send(resource.EndpointType, edsNames, "", "")
	eds := a.recv(resource.EndpointType)
	a.ack(eds, edsNames)
	a.send(resource.RouteType, []string{"gw-http"}, "", "")
	rds := a.recv(resource.RouteType)
	a.ack(rds, []string{"gw-http"})
	a.expectNone(quiet)

	g := f.clone()
	g.clas[edsName(1)] = testCLA(edsName(1), 20000, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)
	eds2 := a.recv(resource.EndpointType)
	if eds2.GetVersionInfo() == eds.GetVersionInfo() || eds2.GetVersionInfo() != versionsOf(t, h.pub, f.key)[TypeEndpoints] {
		t.Fatalf("EDS version %s after the change (was %s)", eds2.GetVersionInfo(), eds.GetVersionInfo())
	}
	a.ack(eds2, edsNames)
	a.expectNone(quiet) // no LDS, RDS or CDS re-sent
	after := versionsOf(t, h.pub, f.key)
	for typ, r := range map[string]*discoveryv3.DiscoveryResponse{TypeListeners: lds, TypeClusters: cds, TypeRoutes: rds} {
		if after[typ] != r.GetVersionInfo() {
			t.Errorf("%s version moved: %s -> %s", typ, r.GetVersionInfo(), after[typ])
		}
	}

	// A listener change, rejected by the proxy.
	g2 := g.clone()
	g2.group.Listeners = []types.Resource{testListener("gw-8080", "gw-http", 9090)}
	mustPublish(t, h.pub, g2.groups(), g2.clas)
	lds2 := a.recv(resource.ListenerType)
	start := time.Now()
	a.s.Send(&discoveryv3.DiscoveryRequest{
		TypeUrl: resource.ListenerType, VersionInfo: lds.GetVersionInfo(), ResponseNonce: lds2.GetNonce(),
		ErrorDetail: &status.Status{Code: int32(codes.InvalidArgument), Message: "gw-8080: bad port"},
	})
	visible := waitFor(t, "NACK visible", func() bool {
		p, _ := h.proxy("envoy-1")
		return p.Types[TypeListeners].NACK != nil
	})
	t.Logf("NACK visible in Proxies() %v after it was sent (%v after the poll started)", time.Since(start), visible)
	p, _ = h.proxy("envoy-1")
	ts := p.Types[TypeListeners]
	if ts.NACK.Error != "gw-8080: bad port" || ts.NACK.Version != lds2.GetVersionInfo() || ts.NACKs != 1 ||
		ts.Acked != lds.GetVersionInfo() || ts.Sent != lds2.GetVersionInfo() || ts.NACK.At.IsZero() {
		t.Errorf("listeners status after NACK = %+v (nack %+v)", ts, *ts.NACK)
	}
	if n := h.metricValue(t, "gatehouse_xds_nacks_total", "type", TypeListeners); n != 1 {
		t.Errorf("gatehouse_xds_nacks_total{type=listeners} = %v, want 1", n)
	}
	// The rejected version is not sent again...
	a.expectNone(quiet)
	// ...but the next one is.
	g3 := g2.clone()
	g3.group.Listeners = []types.Resource{testListener("gw-8080", "gw-http", 8081)}
	mustPublish(t, h.pub, g3.groups(), g3.clas)
	lds3 := a.recv(resource.ListenerType)
	if lds3.GetVersionInfo() == lds2.GetVersionInfo() || lds3.GetVersionInfo() == lds.GetVersionInfo() {
		t.Fatalf("LDS after fix has version %s", lds3.GetVersionInfo())
	}
	a.ack(lds3, nil)
	waitFor(t, "ACK after NACK", func() bool {
		p, _ := h.proxy("envoy-1")
		return p.Types[TypeListeners].Acked == lds3.GetVersionInfo()
	})
	if n := h.metricValue(t, "gatehouse_xds_pushes_total", "type", TypeListeners); n != 3 {
		t.Errorf("gatehouse_xds_pushes_total{type=listeners} = %v, want 3", n)
	}
}

func TestADSChangedClusterResendsEndpoints(t *testing.T) {
	h, f := published(t, 3, 2)
	a := h.open(t, "envoy-1", "gw", "")
	subscribeAll(t, a, f)
	a.expectNone(quiet)

	// Cluster 1's spec changes, its endpoints do not: the translator names
	// its EDS resource anew, so the proxy asks for, and gets, its CLA again.
	g := f.clone()
	newEDS := clusterName(1) + "-v2"
	c := testCluster(clusterName(1), newEDS)
	c.ConnectTimeout.Seconds = 7
	g.group.Clusters[1] = c
	delete(g.group.EDS, edsName(1))
	g.group.EDS[newEDS] = "svc-" + clusterName(1)
	g.clas[newEDS] = testCLA(newEDS, 10000, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)

	cds := a.recv(resource.ClusterType)
	if got := resourceNames(t, cds); !slices.Equal(got, []string{clusterName(0), clusterName(1), clusterName(2)}) {
		t.Fatalf("CDS names %v", got)
	}
	a.ack(cds, nil)
	// The EDS request still names the old resource: nothing is sent for it.
	a.expectNone(quiet)
	edsNames := []string{edsName(0), newEDS, edsName(2)}
	a.send(resource.EndpointType, edsNames, "", "")
	eds := a.recv(resource.EndpointType)
	// Only the new name: the stream holds the other two at their content
	// (sotweds.go).
	if got := resourceNames(t, eds); !slices.Equal(got, []string{newEDS}) {
		t.Fatalf("EDS names %v, want only the new %s", got, newEDS)
	}
	a.ack(eds, edsNames)
	a.expectNone(quiet)
}

func TestADSNodeRoutingByGatewayAndClientKind(t *testing.T) {
	h := newHarness(t)
	env := newFixture("gw-a", translate.ClientEnvoy, 2, 1)
	grpcGroup := newFixture("gw-b", translate.ClientGRPC, 2, 1)
	// Two api_listeners sharing the route table; a client asks for one.
	grpcGroup.group.Listeners = []types.Resource{testAPIListener("a.example", "gw-b-http"), testAPIListener("b.example", "gw-b-http")}
	mustPublish(t, h.pub, map[translate.GroupKey]*translate.Group{env.key: env.group, grpcGroup.key: grpcGroup.group}, merge(env.clas, grpcGroup.clas))

	e := h.open(t, "envoy-a", "gw-a", "envoy")
	e.send(resource.ListenerType, nil, "", "")
	if got := resourceNames(t, e.recv(resource.ListenerType)); !slices.Equal(got, []string{"gw-a-8080"}) {
		t.Errorf("envoy of gw-a got listeners %v", got)
	}

	// grpc-go asks for the listeners it dials, by name. An ADS-mode cache
	// would withhold this response (the request does not name b.example).
	c := h.open(t, "grpc-b", "gw-b", "gRPC Go")
	c.send(resource.ListenerType, []string{"a.example"}, "", "")
	lds := c.recv(resource.ListenerType)
	if got := resourceNames(t, lds); !slices.Equal(got, []string{"a.example"}) {
		t.Errorf("grpc client of gw-b got listeners %v", got)
	}
	c.ack(lds, []string{"a.example"})
	c.send(resource.ClusterType, []string{clusterName(1)}, "", "")
	if got := resourceNames(t, c.recv(resource.ClusterType)); !slices.Equal(got, []string{clusterName(1)}) {
		t.Errorf("grpc client got clusters %v", got)
	}

	// A gRPC client of gw-a is a different group, not published here.
	x := h.open(t, "grpc-a", "gw-a", "gRPC Go")
	x.send(resource.ListenerType, []string{"a.example"}, "", "")
	x.expectNone(quiet)
	waitFor(t, "grpc-a noted", func() bool {
		p, _ := h.proxy("grpc-a")
		return p.Note == "no snapshot for group gw-a/grpc"
	})
	byNode := map[string]ProxyStatus{}
	for _, p := range h.srv.Proxies() {
		byNode[p.NodeID] = p
	}
	if byNode["grpc-b"].Client != "grpc" || byNode["envoy-a"].Client != "envoy" || byNode["grpc-b"].UserAgent != "gRPC Go/1.0" {
		t.Errorf("proxies = %+v", byNode)
	}
	if got := h.metricValue(t, "gatehouse_xds_connected_proxies", "gateway", "gw-b", "client", "grpc"); got != 1 {
		t.Errorf("connected{gw-b,grpc} = %v", got)
	}
}

func TestADSUnknownGateway(t *testing.T) {
	h := newHarness(t)
	a := h.open(t, "lost-1", "nope", "envoy")
	a.send(resource.ListenerType, nil, "", "")
	a.expectNone(quiet)
	waitFor(t, "unknown gateway noted", func() bool {
		p, _ := h.proxy("lost-1")
		return p.Note == `no Gateway named "nope"`
	})
	if n := h.metricValue(t, "gatehouse_xds_unknown_gateway_total"); n != 1 {
		t.Errorf("gatehouse_xds_unknown_gateway_total = %v, want 1", n)
	}
	select {
	case got := <-h.unknown:
		if got != "lost-1 nope" {
			t.Errorf("OnUnknownGateway(%s), want lost-1 nope", got)
		}
	default:
		t.Error("OnUnknownGateway was not called")
	}

	// Publishing the Gateway answers the waiting request; the note goes on
	// the next request.
	f := newFixture("nope", translate.ClientEnvoy, 1, 1)
	mustPublish(t, h.pub, f.groups(), f.clas)
	lds := a.recv(resource.ListenerType)
	a.ack(lds, nil)
	waitFor(t, "note cleared", func() bool {
		p, _ := h.proxy("lost-1")
		return p.Note == "" && p.Types[TypeListeners].Acked == lds.GetVersionInfo()
	})

	// A disconnect removes the proxy.
	a.close()
	waitFor(t, "proxy removed", func() bool { _, ok := h.proxy("lost-1"); return !ok })
	if got := h.metricValue(t, "gatehouse_xds_connected_proxies", "gateway", "nope", "client", "envoy"); got != 0 {
		t.Errorf("connected{nope,envoy} = %v after disconnect", got)
	}
}

func TestADSForgetsStatusOfUnknownGatewayOnDisconnect(t *testing.T) {
	h := newHarness(t)
	a := h.open(t, "lost-1", "ghost", "envoy")
	a.send(resource.ListenerType, nil, "", "")
	waitFor(t, "cache status", func() bool { return slices.Contains(h.pub.envoy.GetStatusKeys(), "ghost/envoy") })
	a.close()
	waitFor(t, "cache status dropped", func() bool { return !slices.Contains(h.pub.envoy.GetStatusKeys(), "ghost/envoy") })
}
