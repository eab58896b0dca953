package server

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// What a hostile or broken client can send gatehouse's own ADS loops
// (sotwads.go, deltaads.go): each test tries one way to make the server
// answer in a loop, hold unbounded state, leak, or serve a client wrongly,
// and then checks that a well-behaved stream is still served.

// Requests answering nonces the server never sent (or not the last one) are
// ignored while a response is outstanding: a thousand of them get no
// response, and the stream's real ACK and the next change work as usual.
func TestSotWForgedNoncesIgnored(t *testing.T) {
	h, _, a, r := cdsStream(t, "forger", 5, 1)
	for i := range 1000 {
		a.send(resource.ClusterType, nil, strconv.Itoa(i), strconv.Itoa(1000+i))
	}
	a.expectNone(quiet)
	a.ack(r, nil)
	a.expectNone(quiet / 3)
	waitFor(t, "the real ACK in the proxy status", func() bool {
		p, ok := h.proxy("forger")
		return ok && p.Types[TypeClusters].Acked == r.GetVersionInfo() && p.Types[TypeClusters].NACK == nil
	})
	// The next change reaches it once.
	next := newFixture("gw", translate.ClientEnvoy, 6, 1)
	mustPublish(t, h.pub, next.groups(), next.clas)
	if got := len(a.recv(resource.ClusterType).GetResources()); got != 6 {
		t.Fatalf("after the forged requests: %d clusters, want 6", got)
	}
	a.expectNone(quiet / 3)
}

// A request naming a hundred thousand names the snapshot lacks is taken
// in and answered with nothing; the stream's next request, naming the real
// resources, is answered, and the junk set is not kept (the subscription
// is replaced).
func TestSotWHugeNameListBounded(t *testing.T) {
	h, f, a, cds := cdsStream(t, "huge", 10, 1)
	a.ack(cds, nil)
	junk := make([]string, 100_000)
	for i := range junk {
		junk[i] = fmt.Sprintf("junk-%06d-%s", i, "x")
	}
	start := time.Now()
	a.send(resource.EndpointType, junk, "", "")
	a.expectNone(quiet)
	names := slices.Sorted(mapKeys(f.group.EDS))
	a.send(resource.EndpointType, names, "", "")
	r := a.recv(resource.EndpointType)
	if got := len(r.GetResources()); got != len(names) {
		t.Fatalf("after the junk subscription: %d CLAs, want %d", got, len(names))
	}
	t.Logf("a request of %d names and the next one handled in %v", len(junk), time.Since(start))
	a.ack(r, names)
	waitFor(t, "the junk subscription replaced by the real one", func() bool {
		h.pub.sotw.mu.Lock()
		defer h.pub.sotw.mu.Unlock()
		for fan := range h.pub.sotw.groups[f.key] {
			if w := fan.held[tEndpoints]; w != nil && len(w.sub.SubscribedResources()) == len(names) {
				return true
			}
		}
		return false
	})
}

// A delta stream that toggles the wildcard, unsubscribes names it never
// subscribed to, subscribes junk, and claims junk initial versions is sent
// what its subscription calls for and nothing in a loop; at the end, with
// the wildcard on, it holds exactly the snapshot's clusters.
func TestDeltaSubscriptionChurn(t *testing.T) {
	h, _ := published(t, 8, 1)
	d := h.openDelta(t, "churn", "gw")
	initial := map[string]string{}
	for i := range 10_000 {
		initial[fmt.Sprintf("junk-%d", i)] = "0123456789abcdef"
	}
	initial[clusterName(0)] = "not-its-version"
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, InitialResourceVersions: initial})
	held := map[string]bool{}
	apply := func(r *discoveryv3.DeltaDiscoveryResponse) {
		for _, res := range r.GetResources() {
			held[res.GetName()] = true
		}
		for _, n := range r.GetRemovedResources() {
			delete(held, n)
		}
		d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: r.GetNonce()})
	}
	apply(d.next(resource.ClusterType)) // the clusters, and removals of the junk it claimed
	responses := 1
	for i := range 200 {
		var req discoveryv3.DeltaDiscoveryRequest
		req.TypeUrl = resource.ClusterType
		switch i % 4 {
		case 0:
			req.ResourceNamesUnsubscribe = []string{"*"}
		case 1:
			req.ResourceNamesSubscribe = []string{"*", fmt.Sprintf("junk-sub-%d", i)}
		case 2:
			req.ResourceNamesUnsubscribe = []string{fmt.Sprintf("never-%d", i), fmt.Sprintf("junk-sub-%d", i-1)}
		case 3:
			req.ResourceNamesSubscribe = []string{clusterName(i % 8)}
		}
		d.send(&req)
	drain:
		for {
			select {
			case r, ok := <-d.resp:
				if !ok {
					t.Fatal("stream ended during the churn")
				}
				responses++
				apply(r)
			case <-time.After(20 * time.Millisecond):
				break drain
			}
		}
	}
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesSubscribe: []string{"*"}})
	for {
		select {
		case r := <-d.resp:
			responses++
			apply(r)
			continue
		case <-time.After(quiet):
		}
		break
	}
	want := map[string]bool{}
	for i := range 8 {
		want[clusterName(i)] = true
	}
	for n := range held {
		if !want[n] {
			t.Fatalf("the client holds %q, which the snapshot does not have", n)
		}
	}
	if len(held) != len(want) {
		t.Fatalf("the client holds %d clusters, want %d", len(held), len(want))
	}
	if responses > 200+1 {
		t.Fatalf("%d responses to 201 requests: answers beyond one per request", responses)
	}
	t.Logf("%d responses to 202 requests", responses)
}

// A delta request without a type URL ends the stream with InvalidArgument,
// as a state-of-the-world one does (TestADSUnknownTypeURL).
func TestDeltaRequestWithoutType(t *testing.T) {
	h, _ := published(t, 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(h.conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&discoveryv3.DeltaDiscoveryRequest{Node: &corev3.Node{Id: "n", Cluster: "gw", UserAgentName: "envoy"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("stream error %v, want InvalidArgument", err)
	}
	d := h.openDelta(t, "after", "gw")
	d.subscribe(resource.ClusterType)
	d.recv(resource.ClusterType)
}

// Streams that come and go, over both protocols and mid-watch, leave no
// goroutine behind.
func TestADSStreamsLeaveNoGoroutines(t *testing.T) {
	h, f := published(t, 20, 1)
	warm := h.open(t, "warm", "gw", "envoy") // the connection's own goroutines
	warm.send(resource.ClusterType, nil, "", "")
	warm.recv(resource.ClusterType)
	time.Sleep(quiet / 3)
	before := runtime.NumGoroutine()
	for round := range 3 {
		var closers []func()
		for i := range 20 {
			a := h.open(t, fmt.Sprintf("s%d-%d", round, i), "gw", "envoy")
			a.send(resource.ClusterType, nil, "", "")
			a.ack(a.recv(resource.ClusterType), nil) // a watch held open
			a.send(resource.EndpointType, slices.Sorted(mapKeys(f.group.EDS)), "", "")
			closers = append(closers, a.close)
			d := h.openDelta(t, fmt.Sprintf("d%d-%d", round, i), "gw")
			d.subscribe(resource.ClusterType)
			d.recv(resource.ClusterType)
			closers = append(closers, func() { _ = d.s.CloseSend() })
		}
		for _, c := range closers {
			c()
		}
	}
	var now int
	waitFor(t, "the streams' goroutines gone", func() bool {
		now = runtime.NumGoroutine()
		return now <= before+5
	})
	t.Logf("goroutines: %d before, %d after 120 streams came and went", before, now)
}
