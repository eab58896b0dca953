package server

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
)

// deltaSub behaves as go-control-plane's delta subscription (stream/v3
// subscription.go) through random first requests (empty, the shared set,
// "*", initial versions) and random subscribes, unsubscribes and
// responses, with and without legacy wildcard, and never writes to the
// shared set.
func TestDeltaSubMatchesGoControlPlanes(t *testing.T) {
	shared := snapshotSubNames([]string{"a", "b", "c", "d"})()
	frozen := maps.Clone(shared.m)
	pick := func(rng *rand.Rand) []string {
		switch rng.IntN(5) {
		case 0:
			return nil
		case 1:
			return []string{"d", "c", "b", "a"} // the shared set
		}
		var out []string
		for range rng.IntN(4) {
			out = append(out, []string{"a", "b", "c", "d", "e", "*"}[rng.IntN(6)])
		}
		return out
	}
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 11))
		legacy := rng.IntN(2) == 0
		sub, unsub := pick(rng), pick(rng)
		var initial map[string]string
		if rng.IntN(3) == 0 {
			initial = map[string]string{"a": "1", "e": "2"}
		}
		want := stream.NewDeltaSubscription(sub, unsub, maps.Clone(initial), legacy)
		got := newDeltaSub(sub, unsub, maps.Clone(initial), legacy, shared)
		for step := range 30 {
			switch rng.IntN(3) {
			case 0: // a response: the watcher's map of what was returned
				ret := map[string]string{}
				for n := range want.SubscribedResources() {
					ret[n] = fmt.Sprint(step)
				}
				want.SetReturnedResources(maps.Clone(ret))
				got.returned = ret
			default:
				s, u := pick(rng), pick(rng)
				want.UpdateResourceSubscriptions(s, u)
				got.update(s, u)
			}
			if got.IsWildcard() != want.IsWildcard() ||
				!maps.Equal(got.SubscribedResources(), want.SubscribedResources()) ||
				!maps.Equal(got.ReturnedResources(), want.ReturnedResources()) {
				t.Fatalf("seed %d step %d: got wildcard %v subscribed %v returned %v, want %v %v %v", seed, step,
					got.IsWildcard(), slices.Sorted(maps.Keys(got.SubscribedResources())), got.ReturnedResources(),
					want.IsWildcard(), slices.Sorted(maps.Keys(want.SubscribedResources())), want.ReturnedResources())
			}
			if !maps.Equal(shared.m, frozen) {
				t.Fatalf("seed %d step %d: the shared set was written to: %v", seed, step, shared.m)
			}
		}
	}
}

// Delta streams of a group that subscribe to exactly its CLAs share one
// name set; one that then unsubscribes a name gets a set of its own, and
// the others keep the shared one.
func TestDeltaSubscriptionsShared(t *testing.T) {
	h, f := published(t, 40, 1)
	names := slices.Sorted(mapKeys(f.group.EDS))
	var conns []*deltaStream
	for i := range 3 {
		d := h.openDelta(t, fmt.Sprintf("s%d", i), "gw")
		d.subscribe(resource.EndpointType, names...)
		d.recv(resource.EndpointType)
		conns = append(conns, d)
	}
	sets := func() map[*subNames]int {
		out := map[*subNames]int{}
		waitFor(t, "every stream's EDS watch open", func() bool {
			n := 0
			h.pub.delta.mu.Lock()
			defer h.pub.delta.mu.Unlock()
			clear(out)
			if g := h.pub.delta.groups[f.key]; g != nil {
				for c := range g.streams {
					c.mu.Lock()
					if w := &c.types[tEndpoints]; w.open {
						out[w.sub.(*deltaSub).set]++
						n++
					}
					c.mu.Unlock()
				}
			}
			return n == len(conns)
		})
		return out
	}
	if s := sets(); len(s) != 1 {
		t.Fatalf("%d name sets among %d streams, want one", len(s), len(conns))
	}
	conns[0].send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNamesUnsubscribe: names[:1]})
	conns[0].expectNone(quiet / 3)
	s := sets()
	if len(s) != 2 {
		t.Fatalf("%d name sets after one stream unsubscribed a name, want 2", len(s))
	}
	for set, n := range s {
		if n == 1 && len(set.m) != len(names)-1 {
			t.Fatalf("the unsubscribing stream's set has %d names", len(set.m))
		}
	}
}
