package server

import (
	"context"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
)

// deltaStream is a raw delta ADS stream, as Envoy drives one.
type deltaStream struct {
	t     *testing.T
	node  *corev3.Node
	s     discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	resp  chan *discoveryv3.DeltaDiscoveryResponse
	first bool
	// have is what the client holds: type URL -> name -> version.
	have map[string]map[string]string
}

func (h *harness) openDelta(t *testing.T, id, gateway string) *deltaStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(h.conn).DeltaAggregatedResources(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	d := &deltaStream{t: t, s: s, first: true, resp: make(chan *discoveryv3.DeltaDiscoveryResponse, 16),
		node: &corev3.Node{Id: id, Cluster: gateway, UserAgentName: "envoy"}, have: map[string]map[string]string{}}
	go func() {
		defer close(d.resp)
		for {
			r, err := s.Recv()
			if err != nil {
				return
			}
			d.resp <- r
		}
	}()
	t.Cleanup(cancel)
	return d
}

func (d *deltaStream) send(req *discoveryv3.DeltaDiscoveryRequest) {
	d.t.Helper()
	if d.first {
		req.Node = d.node
		d.first = false
	}
	if err := d.s.Send(req); err != nil {
		d.t.Fatalf("send %s: %v", req.GetTypeUrl(), err)
	}
}

func (d *deltaStream) subscribe(typeURL string, names ...string) {
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeURL, ResourceNamesSubscribe: names})
}

// recv waits for the next response, checks its type, applies it to have
// and ACKs it.
func (d *deltaStream) recv(typeURL string) *discoveryv3.DeltaDiscoveryResponse {
	d.t.Helper()
	r := d.next(typeURL)
	m := d.have[typeURL]
	if m == nil {
		m = map[string]string{}
		d.have[typeURL] = m
	}
	for _, res := range r.GetResources() {
		m[res.GetName()] = res.GetVersion()
	}
	for _, n := range r.GetRemovedResources() {
		delete(m, n)
	}
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeURL, ResponseNonce: r.GetNonce()})
	return r
}

// next waits for the next response and checks its type, without ACKing.
func (d *deltaStream) next(typeURL string) *discoveryv3.DeltaDiscoveryResponse {
	d.t.Helper()
	select {
	case r, ok := <-d.resp:
		if !ok {
			d.t.Fatalf("stream closed while waiting for %s", typeURL)
		}
		if r.GetTypeUrl() != typeURL {
			d.t.Fatalf("got a %s response %v, want %s", r.GetTypeUrl(), deltaNames(r), typeURL)
		}
		return r
	case <-time.After(5 * time.Second):
		d.t.Fatalf("no %s response within 5s", typeURL)
	}
	return nil
}

func (d *deltaStream) expectNone(dur time.Duration) {
	d.t.Helper()
	select {
	case r, ok := <-d.resp:
		if ok {
			d.t.Fatalf("unexpected %s response: %v removed %v", r.GetTypeUrl(), deltaNames(r), r.GetRemovedResources())
		}
	case <-time.After(dur):
	}
}

func deltaNames(r *discoveryv3.DeltaDiscoveryResponse) []string {
	var out []string
	for _, res := range r.GetResources() {
		out = append(out, res.GetName())
	}
	slices.Sort(out)
	return out
}

func wantNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %q, want %q", what, got, want)
	}
}

// A delta stream through the life of a gateway: initial sync, an endpoint
// change (one resource sent), a cluster added then removed (removal sent),
// a listener change, a NACK (not re-sent, shown in status) and its
// recovery, and a reconnect with initial_resource_versions (nothing the
// client has is sent again).
func TestDeltaADSLifecycle(t *testing.T) {
	h := newHarness(t)
	f := newFixture("gw", "envoy", 3, 2)
	mustPublish(t, h.pub, f.groups(), f.clas)
	d := h.openDelta(t, "d1", "gw")

	// Initial sync: wildcard CDS and LDS, then what they name.
	d.subscribe(resource.ClusterType)
	r := d.recv(resource.ClusterType)
	wantNames(t, "initial CDS", deltaNames(r), clusterName(0), clusterName(1), clusterName(2))
	d.subscribe(resource.EndpointType, edsName(0), edsName(1), edsName(2))
	wantNames(t, "initial EDS", deltaNames(d.recv(resource.EndpointType)), edsName(0), edsName(1), edsName(2))
	d.subscribe(resource.ListenerType)
	wantNames(t, "initial LDS", deltaNames(d.recv(resource.ListenerType)), "gw-8080")
	d.subscribe(resource.RouteType, "gw-http")
	wantNames(t, "initial RDS", deltaNames(d.recv(resource.RouteType)), "gw-http")
	d.expectNone(200 * time.Millisecond)

	// Versions are content hashes: a second publisher (a replica) agrees.
	replica := newTestPublisher(t)
	mustPublish(t, replica, f.groups(), f.clas)
	rsnap, _ := replica.Snapshot(f.key)
	for name, v := range d.have[resource.ClusterType] {
		h, err := hashResource(rsnap.GetResources(resource.ClusterType)[name])
		if err != nil {
			t.Fatal(err)
		}
		// The wire carries go-control-plane's full SHA-256 of the same
		// encoding (see wireVersionLen).
		if len(v) != wireVersionLen || v[:16] != resourceVersion(h) || rsnap.GetVersionMap(resource.ClusterType)[name] != resourceVersion(h) {
			t.Fatalf("cluster %s: version %q, content hash %q, replica %q", name, v, resourceVersion(h), rsnap.GetVersionMap(resource.ClusterType)[name])
		}
	}

	// An endpoint change sends that one CLA and nothing else.
	f.clas[edsName(1)] = testCLA(edsName(1), 30000, 2)
	mustPublish(t, h.pub, f.groups(), f.clas)
	r = d.recv(resource.EndpointType)
	wantNames(t, "EDS after an endpoint change", deltaNames(r), edsName(1))
	if len(r.GetRemovedResources()) != 0 {
		t.Fatalf("removals after an endpoint change: %v", r.GetRemovedResources())
	}
	d.expectNone(200 * time.Millisecond)

	// A cluster added (with its CLA and a route to it): the cluster comes
	// before the route naming it (make-before-break), alone in its type.
	g := f.clone()
	g.group.Clusters = append(g.group.Clusters, testCluster(clusterName(3), edsName(3)))
	g.group.EDS[edsName(3)] = "svc-3"
	g.clas[edsName(3)] = testCLA(edsName(3), 10000, 2)
	g.group.Routes = []types.Resource{testRoute("gw-http", clusterName(0), clusterName(1), clusterName(2), clusterName(3))}
	mustPublish(t, h.pub, g.groups(), g.clas)
	wantNames(t, "CDS after adding a cluster", deltaNames(d.recv(resource.ClusterType)), clusterName(3))
	wantNames(t, "RDS after adding a cluster", deltaNames(d.recv(resource.RouteType)), "gw-http")
	d.subscribe(resource.EndpointType, edsName(3))
	wantNames(t, "EDS of the new cluster", deltaNames(d.recv(resource.EndpointType)), edsName(3))
	d.expectNone(200 * time.Millisecond)

	// The cluster removed again: the route stops naming it first, then it
	// and its CLA are removed by name (make-before-break on removal), and
	// no other cluster or CLA is sent.
	mustPublish(t, h.pub, f.groups(), f.clas)
	wantNames(t, "RDS after removing a cluster", deltaNames(d.recv(resource.RouteType)), "gw-http")
	r = d.recv(resource.ClusterType)
	if len(r.GetResources()) != 0 || !slices.Equal(r.GetRemovedResources(), []string{clusterName(3)}) {
		t.Fatalf("CDS after removing a cluster: sent %v, removed %v; want only %s removed", deltaNames(r), r.GetRemovedResources(), clusterName(3))
	}
	r = d.recv(resource.EndpointType)
	if len(r.GetResources()) != 0 || !slices.Equal(r.GetRemovedResources(), []string{edsName(3)}) {
		t.Fatalf("EDS after removing a cluster: sent %v, removed %v; want only %s removed", deltaNames(r), r.GetRemovedResources(), edsName(3))
	}
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNamesUnsubscribe: []string{edsName(3)}})
	d.expectNone(200 * time.Millisecond)

	// A listener change sends the listener only; the proxy NACKs it.
	bad := f.clone()
	bad.group.Listeners = []types.Resource{testListener("gw-8080", "gw-http", 9090)}
	mustPublish(t, h.pub, bad.groups(), bad.clas)
	r = d.next(resource.ListenerType)
	wantNames(t, "LDS after a listener change", deltaNames(r), "gw-8080")
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ListenerType, ResponseNonce: r.GetNonce(),
		ErrorDetail: &status.Status{Code: 3, Message: "port 9090 in use"}})
	d.expectNone(300 * time.Millisecond) // a NACKed version is not re-sent
	p, ok := h.proxy("d1")
	if !ok {
		t.Fatal("d1 missing from status")
	}
	ls := p.Types[TypeListeners]
	if p.Protocol != "delta" || ls.NACKs != 1 || ls.NACK == nil || ls.NACK.Error != "port 9090 in use" ||
		ls.NACK.Version != r.GetSystemVersionInfo() || !slices.Equal(ls.NACK.Resources, []string{"gw-8080"}) || ls.Acked == ls.Sent {
		t.Fatalf("status after the NACK: protocol %q, listeners %+v (nack %+v)", p.Protocol, ls, ls.NACK)
	}
	if v := h.metricValue(t, "gatehouse_xds_nacks_total", "type", TypeListeners); v != 1 {
		t.Fatalf("nacks metric %v, want 1", v)
	}

	// Recovery: a fixed listener is sent and ACKed.
	fixed := f.clone()
	fixed.group.Listeners = []types.Resource{testListener("gw-8080", "gw-http", 8081)}
	mustPublish(t, h.pub, fixed.groups(), fixed.clas)
	r = d.recv(resource.ListenerType)
	wantNames(t, "LDS after the fix", deltaNames(r), "gw-8080")
	waitFor(t, "listeners acked", func() bool {
		p, _ := h.proxy("d1")
		return p.Types[TypeListeners].Acked == r.GetSystemVersionInfo() && p.Types[TypeListeners].Sent == r.GetSystemVersionInfo()
	})
	for typ, want := range map[string]string{TypeClusters: resource.ClusterType, TypeEndpoints: resource.EndpointType, TypeRoutes: resource.RouteType} {
		v, _ := h.pub.Versions(f.key)
		p, _ := h.proxy("d1")
		if ts := p.Types[typ]; ts.Acked != v[typ] || ts.Sent != v[typ] {
			t.Fatalf("%s (%s): status %+v, published version %s", typ, want, ts, v[typ])
		}
	}
	d.expectNone(200 * time.Millisecond)

	// Reconnect with what the client has: nothing is sent again (the
	// wildcard types get an empty response, which go-control-plane sends to
	// a stream's first wildcard request so that Envoy completes its
	// initialization), and the next change sends only what changed.
	e := h.openDelta(t, "d1", "gw")
	for _, typ := range []string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType} {
		var names []string
		if typ == resource.EndpointType || typ == resource.RouteType {
			for n := range d.have[typ] {
				names = append(names, n)
			}
		}
		e.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typ, ResourceNamesSubscribe: names, InitialResourceVersions: d.have[typ]})
	}
	for _, typ := range []string{resource.ClusterType, resource.ListenerType} {
		if r := e.recv(typ); len(r.GetResources()) != 0 || len(r.GetRemovedResources()) != 0 {
			t.Fatalf("%s after reconnecting: sent %v, removed %v; want nothing", typ, deltaNames(r), r.GetRemovedResources())
		}
	}
	e.expectNone(500 * time.Millisecond)
	fixed.clas[edsName(2)] = testCLA(edsName(2), 40000, 2)
	mustPublish(t, h.pub, fixed.groups(), fixed.clas)
	wantNames(t, "EDS after reconnecting", deltaNames(e.recv(resource.EndpointType)), edsName(2))
	e.expectNone(200 * time.Millisecond)
}

// A client reconnecting with a stale version of one resource gets exactly
// that resource, and one that claims a resource gone from the group gets
// its removal.
func TestDeltaInitialVersionsStale(t *testing.T) {
	h := newHarness(t)
	f := newFixture("gw", "envoy", 2, 1)
	mustPublish(t, h.pub, f.groups(), f.clas)
	snap, _ := h.pub.Snapshot(f.key)
	have := map[string]string{}
	for n, v := range snap.GetVersionMap(resource.ClusterType) {
		have[n] = v
	}
	have[clusterName(1)] = "stale"
	have["gone"] = "1"
	d := h.openDelta(t, "d2", "gw")
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, InitialResourceVersions: have})
	r := d.recv(resource.ClusterType)
	wantNames(t, "sent", deltaNames(r), clusterName(1))
	if !slices.Equal(r.GetRemovedResources(), []string{"gone"}) {
		t.Fatalf("removed %v, want [gone]", r.GetRemovedResources())
	}
}

// The prebuilt name -> resource maps the caches serve hold exactly the
// snapshot's resources, after a full build and after an endpoint patch, and
// the cache serves them.
func TestServedSnapshotMatchesSnapshot(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", "envoy", 5, 2)
	mustPublish(t, p, f.groups(), f.clas)
	f.clas[edsName(3)] = testCLA(edsName(3), 30000, 2)
	mustPublish(t, p, f.groups(), f.clas)
	served, err := p.envoy.GetSnapshot(f.key.String())
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := p.Snapshot(f.key)
	for _, typ := range typeURLs {
		got, want := served.GetResources(typ), snap.GetResources(typ)
		if len(got) != len(want) {
			t.Fatalf("%s: %d resources served, snapshot has %d", typ, len(got), len(want))
		}
		for n, r := range want {
			if got[n] != r {
				t.Fatalf("%s %s: served %p, snapshot %p", typ, n, got[n], r)
			}
		}
	}
	if served.GetResources(resource.EndpointType)[edsName(3)] != f.clas[edsName(3)] {
		t.Fatal("the patched CLA is not served")
	}
}

// Wildcard and explicit subscriptions mixed on one type: "*" plus a name
// gets everything; once "*" is unsubscribed, only the named resource's
// changes are sent; subscribing "*" again sends every resource the client
// stopped tracking when it left the wildcard (a client forgets the
// resources it unsubscribes from), not the one it kept by name.
func TestDeltaWildcardAndExplicitMixed(t *testing.T) {
	h := newHarness(t)
	f := newFixture("gw", "envoy", 3, 1)
	mustPublish(t, h.pub, f.groups(), f.clas)
	d := h.openDelta(t, "mixed", "gw")
	d.subscribe(resource.EndpointType, "*", edsName(1))
	wantNames(t, "wildcard and a name", deltaNames(d.recv(resource.EndpointType)), edsName(0), edsName(1), edsName(2))

	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNamesUnsubscribe: []string{"*"}})
	d.expectNone(200 * time.Millisecond)
	f.clas[edsName(0)] = testCLA(edsName(0), 30000, 1) // not subscribed any more
	mustPublish(t, h.pub, f.groups(), f.clas)
	d.expectNone(300 * time.Millisecond)
	f.clas[edsName(1)] = testCLA(edsName(1), 30000, 1) // still subscribed by name
	mustPublish(t, h.pub, f.groups(), f.clas)
	wantNames(t, "named after unsubscribing *", deltaNames(d.recv(resource.EndpointType)), edsName(1))

	d.subscribe(resource.EndpointType, "*")
	wantNames(t, "wildcard again", deltaNames(d.recv(resource.EndpointType)), edsName(0), edsName(2))
}
