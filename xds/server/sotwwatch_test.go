package server

import (
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// heldWatches counts the watches sharedSotW holds itself for group k's
// streams, and those the stock cache holds for the group.
func heldWatches(t *testing.T, h *harness, k translate.GroupKey) (held, stock int) {
	t.Helper()
	s := h.pub.sotw
	s.mu.Lock()
	for f := range s.groups[k] {
		for _, w := range f.held {
			if w != nil && w.stockCancel == nil {
				held++
			}
		}
	}
	s.mu.Unlock()
	if info := h.pub.envoy.GetStatusInfo(k.String()); info != nil {
		stock = info.GetNumWatches()
	}
	return held, stock
}

// Once streams have ACKed everything, every watch waiting for a change is
// held by gatehouse (sotwwatch.go), none by the stock cache, whose answer
// to each would build a response of its own per stream; an endpoint
// change is then answered from the shared encodings, trimmed to the one
// CLA, and the watches opened by the ACKs are held again.
func TestSotWWaitingWatchesAreHeld(t *testing.T) {
	h, f, streams, names := edsSetup(t, 30, 3)
	want := 4 * len(streams) // CDS, EDS, LDS, RDS
	waitFor(t, "every waiting watch held", func() bool {
		held, stock := heldWatches(t, h, f.key)
		return held == want && stock == 0
	})
	for round, port := range []int{21000, 21001} {
		changeOneCLA(t, h, f, streams, names, 4+round, port)
		waitFor(t, "the watches held again after the ACKs", func() bool {
			held, stock := heldWatches(t, h, f.key)
			return held == want && stock == 0
		})
	}
	if got := answers(h); got != (answerCounts{immediate: 4 * len(streams), shared: 2 * len(streams)}) {
		t.Fatalf("watches answered %+v, want the %d initial ones at once and %d held ones, all from the shared encodings", got, 4*len(streams), 2*len(streams))
	}
}

// An ACK that arrives after the next publish (its version is no longer
// the snapshot's) is answered at once from the shared encodings, as the
// cache would answer it, with only what changed since the ACKed version.
func TestSotWLateAckAnsweredAtOnce(t *testing.T) {
	h, f, streams, names := edsSetup(t, 20, 1)
	a := streams[0]
	before := answers(h)
	setPort(t, h, f, 3, 22003)
	r1 := expectEDS(t, a, map[string]uint32{edsName(3): 22003})
	setPort(t, h, f, 9, 22009) // no EDS watch open: nothing is sent yet
	a.expectNone(quiet / 3)
	a.ack(r1, names)
	r2 := expectEDS(t, a, map[string]uint32{edsName(9): 22009})
	if r2.GetVersionInfo() != edsVersion(t, h, f) {
		t.Fatalf("EDS version %s, want %s", r2.GetVersionInfo(), edsVersion(t, h, f))
	}
	got := answers(h)
	if got.immediate != before.immediate+1 || got.byCache != before.byCache {
		t.Fatalf("answers went from %+v to %+v, want one more answered at once from the shared encodings", before, got)
	}
}

func answers(h *harness) answerCounts {
	h.pub.sotw.mu.Lock()
	defer h.pub.sotw.mu.Unlock()
	return h.pub.sotw.answered
}

// A held watch whose request does not name exactly the type's resources
// (here one more, absent: the stock cache in ADS mode answers a request
// naming every resource of the snapshot, and leaves one naming only some
// unanswered) is answered by the stock cache when the type changes, as
// before; the answer is still trimmed to what the stream lacks.
func TestSotWHeldNamedOtherwiseAnsweredByCache(t *testing.T) {
	h, f, a, cds := cdsStream(t, "superset", 10, 2)
	a.ack(cds, nil)
	names := append(slices.Sorted(mapKeys(f.group.EDS)), "absent")
	a.send(resource.EndpointType, names, "", "")
	r := a.recv(resource.EndpointType)
	if got := len(resourceNames(t, r)); got != 10 {
		t.Fatalf("initial EDS carried %d CLAs, want 10", got)
	}
	a.ack(r, names)
	waitFor(t, "the watches held", func() bool {
		held, stock := heldWatches(t, h, f.key)
		return held == 2 && stock == 0
	})
	setPort(t, h, f, 5, 21005)
	r = expectEDS(t, a, map[string]uint32{edsName(5): 21005})
	if r.GetVersionInfo() != edsVersion(t, h, f) {
		t.Fatalf("EDS version %s, want %s", r.GetVersionInfo(), edsVersion(t, h, f))
	}
	a.ack(r, names)
	waitFor(t, "the watch held again", func() bool {
		held, stock := heldWatches(t, h, f.key)
		return held == 2 && stock == 0
	})
	setPort(t, h, f, 7, 21007)
	expectEDS(t, a, map[string]uint32{edsName(7): 21007})
	if got := answers(h); got != (answerCounts{immediate: 1, byCache: 2}) {
		t.Fatalf("watches answered %+v, want the initial CDS at once and both held EDS watches by the cache", got)
	}
}

// A publish that changes every type answers a stream's held watches in
// the stock cache's ADS order: clusters, endpoints, listeners, routes.
func TestSotWHeldAnsweredInADSOrder(t *testing.T) {
	h, f, streams, _ := edsSetup(t, 5, 1)
	a := streams[0]
	waitFor(t, "every waiting watch held", func() bool {
		held, _ := heldWatches(t, h, f.key)
		return held == 4
	})
	g := f.clone()
	var names []string
	for _, c := range g.group.Clusters {
		names = append(names, cache.GetResourceName(c))
	}
	c0 := proto.Clone(g.group.Clusters[0]).(*clusterv3.Cluster)
	c0.ConnectTimeout = durationpb.New(2e9)
	g.group.Clusters[0] = c0
	g.clas[edsName(1)] = testCLA(edsName(1), 30000, 1)
	slices.Reverse(names)
	g.group.Routes = []types.Resource{testRoute(cache.GetResourceName(f.group.Routes[0]), names...)}
	l := proto.Clone(g.group.Listeners[0]).(*listenerv3.Listener)
	l.GetAddress().GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: 8081}
	g.group.Listeners = []types.Resource{l}
	mustPublish(t, h.pub, g.groups(), g.clas)
	var order []string
	for len(order) < 4 {
		select {
		case r, ok := <-a.resp:
			if !ok {
				t.Fatal("stream closed")
			}
			order = append(order, r.GetTypeUrl())
		case <-time.After(5 * time.Second):
			t.Fatalf("only %v within 5 s", order)
		}
	}
	want := []string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType}
	if !slices.Equal(order, want) {
		t.Fatalf("responses in order %v, want %v", order, want)
	}
}

// sameNameSet accepts exactly the resources' names in any order, and
// nothing else: a repeated name hiding a missing one, a missing or extra
// name, the explicit wildcard.
func TestSameNameSet(t *testing.T) {
	m := map[string]string{"a": "1", "b": "1", "c": "1"}
	distinct := func(names []string) int {
		set := map[string]bool{}
		for _, n := range names {
			set[n] = true
		}
		return len(set)
	}
	for _, c := range []struct {
		names []string
		want  bool
	}{
		{[]string{"c", "a", "b"}, true},
		{[]string{"a", "a", "b"}, false},
		{[]string{"a", "b"}, false},
		{[]string{"a", "b", "c", "d"}, false},
		{[]string{"a", "b", "*"}, false},
		{nil, false},
	} {
		if got := sameNameSet(c.names, distinct(c.names), m); got != c.want {
			t.Errorf("sameNameSet(%v) = %v, want %v", c.names, got, c.want)
		}
	}
}
