package e2e

import (
	"sort"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// adsStream is a raw ADS stream that behaves like Envoy: it subscribes to
// CDS and LDS, then to the EDS and RDS names they reference, and ACKs
// everything. It exposes every response so tests can see versions and nonces.
type adsStream struct {
	t      *testing.T
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node
	recv   <-chan *discoveryv3.DiscoveryResponse
	// last version and resource names seen per type
	versions map[string]string
	names    map[string][]string
	// seen is every response received; onResponse (if set) is called
	// with each.
	seen       []*discoveryv3.DiscoveryResponse
	onResponse func(*discoveryv3.DiscoveryResponse)
}

func dialADS(t *testing.T, g *gatehouse, nodeID, gateway string) *adsStream {
	t.Helper()
	st := gatehouseproc.OpenADS(t, g.XDSAddr)
	a := &adsStream{t: t, stream: st, node: &corev3.Node{Id: nodeID, Cluster: gateway, UserAgentName: "envoy"},
		recv: gatehouseproc.Responses(st, 100), versions: map[string]string{}, names: map[string][]string{}}
	return a
}

func (a *adsStream) send(typ string, names []string, version, nonce string) {
	a.t.Helper()
	if err := a.stream.Send(&discoveryv3.DiscoveryRequest{Node: a.node, TypeUrl: typ, ResourceNames: names, VersionInfo: version, ResponseNonce: nonce}); err != nil {
		a.t.Fatal(err)
	}
}

// next waits for one response (bounded) and ACKs it, subscribing to the
// names it references as Envoy would.
func (a *adsStream) next(bound time.Duration) *discoveryv3.DiscoveryResponse {
	a.t.Helper()
	select {
	case r, ok := <-a.recv:
		if !ok {
			a.t.Fatal("ADS stream closed")
		}
		a.seen = append(a.seen, r)
		if a.onResponse != nil {
			a.onResponse(r)
		}
		a.versions[r.TypeUrl] = r.VersionInfo
		a.send(r.TypeUrl, a.names[r.TypeUrl], r.VersionInfo, r.Nonce)
		switch r.TypeUrl {
		case resourcev3.ClusterType:
			a.subscribe(resourcev3.EndpointType, edsNames(a.t, r))
		case resourcev3.ListenerType:
			a.subscribe(resourcev3.RouteType, rdsNames(a.t, r))
		}
		return r
	case <-time.After(bound):
		return nil
	}
}

// ended waits until the server ends the stream, discarding responses;
// past bound it fails the test.
func (a *adsStream) ended(t *testing.T, bound time.Duration) {
	t.Helper()
	deadline := time.After(bound)
	for {
		select {
		case _, ok := <-a.recv:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("the stream did not end within %v", bound)
		}
	}
}

func (a *adsStream) subscribe(typ string, names []string) {
	sort.Strings(names)
	if old, ok := a.names[typ]; ok && equalStrings(old, names) {
		return
	}
	a.names[typ] = names
	a.send(typ, names, a.versions[typ], "")
}

// until reads and ACKs responses until done holds (checked after each),
// failing the test if it does not within bound, and returns the type URLs
// received.
func (a *adsStream) until(t *testing.T, what string, bound time.Duration, done func() bool) []string {
	t.Helper()
	var types []string
	deadline := time.Now().Add(bound)
	for !done() {
		r := a.next(time.Until(deadline))
		if r == nil {
			t.Fatalf("%s: not within %v (received %v)", what, bound, types)
		}
		types = append(types, r.TypeUrl)
	}
	return types
}

// nothingMore reads and ACKs responses for window after the expected ones
// arrived and returns their type URLs: a test asserts this is empty, so a
// stray re-send is caught without the test ever waiting for silence.
func (a *adsStream) nothingMore(window time.Duration) []string {
	var types []string
	deadline := time.Now().Add(window)
	for {
		r := a.next(time.Until(deadline))
		if r == nil {
			return types
		}
		types = append(types, r.TypeUrl)
	}
}

func edsNames(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	names, err := gatehouseproc.EDSNames(r)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func rdsNames(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	names, err := gatehouseproc.RDSNames(r)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// An endpoint-only change (a static endpoint list edited in the policy
// directory) sends only a new EDS version: listeners, routes and clusters
// keep their versions and are not re-sent. A changed Cluster gets a new EDS
// name, whose endpoints are then sent, so it never stays warming.
func TestEndpointOnlyChangeSendsOnlyEDS(t *testing.T) {
	t.Parallel()
	a1, a2 := startBackend(t, "a1"), startBackend(t, "a2")
	dir := t.TempDir()
	route := "kind: Route\nname: r\nspec:\n  gateways: [public]\n  backends: [{service: app}]\n"
	writePolicy(t, dir, map[string]string{"gateway.yaml": gatewayYAML, "app.yaml": staticService("app", a1), "route.yaml": route})
	g := startGatehouse(t, dir)
	s := dialADS(t, g, "raw-eds", "public")
	s.subscribe(resourcev3.ClusterType, nil)
	s.subscribe(resourcev3.ListenerType, nil)
	all := []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType}
	s.until(t, "initial sync of every type", 10*time.Second, func() bool {
		for _, typ := range all {
			if s.versions[typ] == "" {
				return false
			}
		}
		return true
	})
	if more := s.nothingMore(300 * time.Millisecond); len(more) != 0 {
		t.Fatalf("initial sync: more responses after every type was received: %v", more)
	}
	before := map[string]string{}
	for k, v := range s.versions {
		before[k] = v
	}

	writePolicy(t, dir, map[string]string{"app.yaml": staticService("app", a1, a2)})
	got := s.until(t, "the endpoint change", 10*time.Second, func() bool {
		return s.versions[resourcev3.EndpointType] != before[resourcev3.EndpointType]
	})
	got = append(got, s.nothingMore(500*time.Millisecond)...)
	if len(got) != 1 || got[0] != resourcev3.EndpointType {
		t.Fatalf("endpoint-only change: got responses %v, want exactly one EDS response", got)
	}
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.ListenerType, resourcev3.RouteType} {
		if s.versions[typ] != before[typ] {
			t.Fatalf("%s version changed on an endpoint-only change: %s -> %s", typ, before[typ], s.versions[typ])
		}
	}
	if s.versions[resourcev3.EndpointType] == before[resourcev3.EndpointType] {
		t.Fatal("EDS version did not change")
	}

	// Change the Cluster only (connect timeout): new CDS with a new EDS
	// name, then the CLA under that name.
	oldEDS := s.names[resourcev3.EndpointType]
	svc := staticService("app", a1, a2) + "  connectTimeout: 3s\n"
	writePolicy(t, dir, map[string]string{"app.yaml": svc})
	edsBefore := s.versions[resourcev3.EndpointType]
	got = s.until(t, "the cluster change and the endpoints of its new EDS name", 10*time.Second, func() bool {
		return !equalStrings(oldEDS, s.names[resourcev3.EndpointType]) && s.versions[resourcev3.EndpointType] != edsBefore
	})
	got = append(got, s.nothingMore(300*time.Millisecond)...)
	if equalStrings(oldEDS, s.names[resourcev3.EndpointType]) {
		t.Fatalf("changed cluster kept its EDS name %v", oldEDS)
	}
	sawCDS, sawEDSAfter := false, false
	for _, typ := range got {
		if typ == resourcev3.ClusterType {
			sawCDS = true
		}
		if sawCDS && typ == resourcev3.EndpointType {
			sawEDSAfter = true
		}
	}
	if !sawEDSAfter {
		t.Fatalf("changed cluster: got %v, want CDS followed by EDS for the new name", got)
	}
	if s.versions[resourcev3.ListenerType] != before[resourcev3.ListenerType] || s.versions[resourcev3.RouteType] != before[resourcev3.RouteType] {
		t.Fatal("a cluster-only change re-versioned listeners or routes")
	}
}
