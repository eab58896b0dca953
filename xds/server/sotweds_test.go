package server

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
)

// State-of-the-world EDS sends a stream only the CLAs it does not hold at
// their current content (sotweds.go), over real ADS streams.

// edsSetup publishes n CLAs for one Envoy group and syncs k streams.
func edsSetup(t *testing.T, n, k int) (*harness, *fixture, []*adsStream, []string) {
	t.Helper()
	h, f := published(t, n, 2)
	var streams []*adsStream
	for i := range k {
		a := h.open(t, fmt.Sprintf("e%d", i), "gw", "envoy")
		_, _, eds, _ := subscribeAll(t, a, f)
		if got := len(eds.GetResources()); got != n {
			t.Fatalf("initial EDS carried %d CLAs, want all %d", got, n)
		}
		streams = append(streams, a)
	}
	return h, f, streams, slices.Sorted(mapKeys(f.group.EDS))
}

// setPort publishes a new content for CLA i.
func setPort(t *testing.T, h *harness, f *fixture, i, port int) {
	t.Helper()
	f.clas[edsName(i)] = testCLA(edsName(i), port, 2)
	mustPublish(t, h.pub, f.groups(), f.clas)
}

// expectEDS receives an EDS response and checks the CLAs it carries (by
// name) and, for each, its first port.
func expectEDS(t *testing.T, a *adsStream, want map[string]uint32) *discoveryv3.DiscoveryResponse {
	t.Helper()
	r := a.recv(resource.EndpointType)
	got := anyCLAs(t, r.GetResources())
	if len(got) != len(want) || len(r.GetResources()) != len(want) {
		t.Fatalf("%s: EDS %s carried %v, want %v", a.node.GetId(), r.GetVersionInfo(), slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for n, port := range want {
		if p := firstPort(t, got, n); p != port {
			t.Fatalf("%s: EDS %s has %s at port %d, want %d", a.node.GetId(), r.GetVersionInfo(), n, p, port)
		}
	}
	return r
}

func edsVersion(t *testing.T, h *harness, f *fixture) string {
	t.Helper()
	return h.pub.delta.current(f.key).types[tEndpoints].version
}

func TestSotWEDSSendsOnlyTheChangedCLA(t *testing.T) {
	h, f, streams, names := edsSetup(t, 30, 4)
	for round, port := range []int{20000, 20001, 20002} {
		changeOneCLA(t, h, f, streams, names, 7+round, port)
	}
}

// An endpoint change encodes the changed CLA's response field once, for
// every stream, and joins no whole-type body: streams that hold the rest
// get that field alone, and the other CLAs' fields are carried from the
// previous snapshot.
func TestSotWEDSChangeEncodesOneField(t *testing.T) {
	h, f, streams, names := edsSetup(t, 30, 4)
	changeOneCLA(t, h, f, streams, names, 3, 20003) // settle what the sync left
	bodies, fields := sotwBodies.Load(), sotwFields.Load()
	for round, port := range []int{20004, 20005} {
		changeOneCLA(t, h, f, streams, names, 5+round, port)
	}
	if got := sotwFields.Load() - fields; got != 2 {
		t.Fatalf("%d response fields encoded for 2 endpoint changes to 4 streams, want 2", got)
	}
	if got := sotwBodies.Load() - bodies; got != 0 {
		t.Fatalf("%d whole EDS bodies joined for 2 endpoint changes, want 0", got)
	}
}

// changeOneCLA publishes a new port for CLA i and checks that every stream
// gets that CLA alone at the type's current version, ACKs it, and gets
// nothing more.
func changeOneCLA(t *testing.T, h *harness, f *fixture, streams []*adsStream, names []string, i, port int) {
	t.Helper()
	setPort(t, h, f, i, port)
	for _, a := range streams {
		r := expectEDS(t, a, map[string]uint32{edsName(i): uint32(port)})
		if r.GetVersionInfo() != edsVersion(t, h, f) {
			t.Fatalf("EDS version %s, want the type's current %s", r.GetVersionInfo(), edsVersion(t, h, f))
		}
		a.ack(r, names)
	}
	for _, a := range streams {
		a.expectNone(quiet / 3)
	}
}

// A NACKed response is not held. Gatehouse parks a NACK until the next
// version (status.go: go-control-plane would resend the rejected
// response at once, in a loop); that version then carries what the stream
// still lacks and the new change together. An ACK after that makes the
// next change one CLA again.
func TestSotWEDSNackedIsNotHeld(t *testing.T) {
	h, f, streams, names := edsSetup(t, 20, 1)
	a := streams[0]
	held := edsVersion(t, h, f)
	setPort(t, h, f, 3, 20003)
	r1 := expectEDS(t, a, map[string]uint32{edsName(3): 20003})
	edsNack(a, r1, names, held)
	a.expectNone(quiet / 3)
	setPort(t, h, f, 9, 20009)
	r2 := expectEDS(t, a, map[string]uint32{edsName(3): 20003, edsName(9): 20009})
	edsNack(a, r2, names, held)
	setPort(t, h, f, 11, 20011)
	r3 := expectEDS(t, a, map[string]uint32{edsName(3): 20003, edsName(9): 20009, edsName(11): 20011})
	a.ack(r3, names)
	a.expectNone(quiet / 3)
	setPort(t, h, f, 12, 20012)
	expectEDS(t, a, map[string]uint32{edsName(12): 20012})
}

func edsNack(a *adsStream, r *discoveryv3.DiscoveryResponse, names []string, held string) {
	a.t.Helper()
	if err := a.s.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNames: names,
		VersionInfo: held, ResponseNonce: r.GetNonce(), ErrorDetail: &status.Status{Code: 3, Message: "rejected by the test"}}); err != nil {
		a.t.Fatal(err)
	}
}

// A CLA a NACKed response carried may have been applied (Envoy updates
// watch after watch and NACKs at the first failure), so it is sent again
// until ACKed even when its content went back to what the stream ACKed
// (compared name by name: the stream is past the hub's chain).
func TestSotWEDSNackedContentBackToHeld(t *testing.T) {
	h, f, streams, names := edsSetup(t, 10, 1)
	a := streams[0]
	held := edsVersion(t, h, f)
	setPort(t, h, f, 2, 20002)
	r1 := expectEDS(t, a, map[string]uint32{edsName(2): 20002})
	setPort(t, h, f, 2, 10000) // back to the content the stream ACKed
	for i := range snapChainMax + 1 {
		setPort(t, h, f, 3, 30000+i)
	}
	edsNack(a, r1, names, held)
	expectEDS(t, a, map[string]uint32{edsName(2): 10000, edsName(3): uint32(30000 + snapChainMax)})
}

// A stream that did not answer while several versions were published
// gets, once, every CLA changed since what it holds, at its newest
// content.
func TestSotWEDSBehindGetsTheUnionOnce(t *testing.T) {
	h, f, streams, names := edsSetup(t, 20, 2)
	slow, quick := streams[0], streams[1]
	setPort(t, h, f, 4, 20004)
	r1 := expectEDS(t, slow, map[string]uint32{edsName(4): 20004})
	quick.ack(expectEDS(t, quick, map[string]uint32{edsName(4): 20004}), names)
	setPort(t, h, f, 4, 21004)
	quick.ack(expectEDS(t, quick, map[string]uint32{edsName(4): 21004}), names)
	setPort(t, h, f, 5, 20005)
	quick.ack(expectEDS(t, quick, map[string]uint32{edsName(5): 20005}), names)
	setPort(t, h, f, 6, 20006)
	quick.ack(expectEDS(t, quick, map[string]uint32{edsName(6): 20006}), names)
	slow.expectNone(quiet / 3)
	slow.ack(r1, names)
	r := expectEDS(t, slow, map[string]uint32{edsName(4): 21004, edsName(5): 20005, edsName(6): 20006})
	if r.GetVersionInfo() != edsVersion(t, h, f) {
		t.Fatalf("catch-up version %s, want %s", r.GetVersionInfo(), edsVersion(t, h, f))
	}
	slow.ack(r, names)
	slow.expectNone(quiet / 3)
}

// Further behind than the delta hub's chain, the stream is compared name
// by name with what it holds: still only what changed.
func TestSotWEDSBehindPastTheChain(t *testing.T) {
	h, f, streams, names := edsSetup(t, 20, 1)
	a := streams[0]
	setPort(t, h, f, 1, 20001)
	r1 := expectEDS(t, a, map[string]uint32{edsName(1): 20001})
	for i := range snapChainMax + 2 {
		setPort(t, h, f, 2, 30000+i)
	}
	a.ack(r1, names)
	expectEDS(t, a, map[string]uint32{edsName(2): uint32(30000 + snapChainMax + 1)})
}

// Names subscribed again at the same version (Envoy dropped the CLA with
// its cluster and asks from nothing) get their CLAs; dropping names sends
// nothing.
func TestSotWEDSResubscribedAtSameVersion(t *testing.T) {
	h, f, streams, names := edsSetup(t, 20, 1)
	a := streams[0]
	setPort(t, h, f, 0, 20000)
	r := expectEDS(t, a, map[string]uint32{edsName(0): 20000})
	a.ack(r, names)
	fewer := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == edsName(5) || n == edsName(6) })
	a.ack(r, fewer) // unsubscribe: nothing is sent
	a.expectNone(quiet / 3)
	a.ack(r, names)
	r2 := expectEDS(t, a, map[string]uint32{edsName(5): 10000, edsName(6): 10000})
	if r2.GetVersionInfo() != r.GetVersionInfo() {
		t.Fatalf("resubscribe answered at %s, want the same version %s", r2.GetVersionInfo(), r.GetVersionInfo())
	}
	a.ack(r2, names)
	a.expectNone(quiet / 3)
}

// A new cluster's CLA comes alone once the stream asks for it; a removed
// cluster's leaves an EDS response that names nothing (the type's version
// still moves; Envoy updates no watch for it), and the stream asking for
// one name fewer then gets nothing.
func TestSotWEDSAddAndRemoveClusters(t *testing.T) {
	h, f, streams, names := edsSetup(t, 10, 1)
	a := streams[0]
	g := f.clone()
	newEDS := clusterName(10) + "-v1"
	g.group.Clusters = append(g.group.Clusters, testCluster(clusterName(10), newEDS))
	g.group.EDS[newEDS] = "svc-new"
	g.clas[newEDS] = testCLA(newEDS, 15000, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)
	a.ack(a.recv(resource.ClusterType), nil)
	more := append(slices.Clone(names), newEDS)
	a.send(resource.EndpointType, more, "", "")
	r := expectEDS(t, a, map[string]uint32{newEDS: 15000})
	a.ack(r, more)
	a.expectNone(quiet / 3)

	r2 := g.clone()
	r2.group.Clusters = r2.group.Clusters[1:]
	r2.group.Routes = []types.Resource{testRoute("gw-http", clusterNames(1, 11)...)}
	delete(r2.group.EDS, edsName(0))
	mustPublish(t, h.pub, r2.groups(), r2.clas)
	// A publish that drops a cluster goes through the bridge (sotwhold.go):
	// answer routes and clusters until the final snapshot's EDS comes.
	final := edsVersion(t, h, f)
	var got []*discoveryv3.DiscoveryResponse
	for done := false; !done; {
		select {
		case r := <-a.resp:
			switch r.GetTypeUrl() {
			case resource.EndpointType:
				got = append(got, r)
				a.ack(r, more)
			case resource.RouteType:
				a.ack(r, []string{"gw-http"})
			default:
				a.ack(r, nil)
			}
		case <-time.After(quiet):
			done = true
		}
	}
	if len(got) == 0 || got[len(got)-1].GetVersionInfo() != final {
		t.Fatalf("got %d EDS responses, the last not at the final version %s", len(got), final)
	}
	for _, r := range got {
		if n := len(r.GetResources()); n != 0 {
			t.Fatalf("EDS %s after a removal carried %d CLAs, want none", r.GetVersionInfo(), n)
		}
	}
	a.ack(got[len(got)-1], more[1:])
	a.expectNone(quiet / 3)
}

// A reconnecting stream holds nothing the server knows of: all its CLAs.
func TestSotWEDSReconnectGetsEverything(t *testing.T) {
	h, f, streams, _ := edsSetup(t, 20, 1)
	setPort(t, h, f, 3, 20003)
	expectEDS(t, streams[0], map[string]uint32{edsName(3): 20003})
	streams[0].close()
	a := h.open(t, "e0", "gw", "envoy")
	_, _, eds, _ := subscribeAll(t, a, f)
	if got := len(eds.GetResources()); got != 20 {
		t.Fatalf("reconnected stream got %d CLAs, want 20", got)
	}
}
