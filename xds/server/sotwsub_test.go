package server

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// sotwSub behaves as go-control-plane's state-of-the-world subscription
// (stream/v3 subscription.go) through random requests (empty, explicit
// wildcard, repeated names, the shared set, subsets and supersets of it)
// and responses, with and without legacy wildcard, and never writes to a
// map it was given.
func TestSotWSubMatchesGoControlPlanes(t *testing.T) {
	shared := snapshotSubNames([]string{"a", "b", "c", "d"})()
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		names := func() []string {
			switch rng.IntN(6) {
			case 0:
				return nil
			case 1:
				return []string{"a", "b", "c", "d"} // the shared set
			case 2:
				return []string{"d", "c", "b", "a"} // the same, in another order
			case 3:
				return []string{"a", "a", "b", "c"} // repeats a name, misses one
			}
			var out []string
			for range rng.IntN(6) {
				out = append(out, []string{"a", "b", "c", "d", "e", "*"}[rng.IntN(6)])
			}
			return out
		}
		legacy := rng.IntN(2) == 0
		first := names()
		want := stream.NewSotwSubscription(first, legacy)
		got := newSotwSub(first, legacy, shared)
		for step := range 30 {
			if rng.IntN(3) == 0 {
				// A response: the returned names of some subscribed ones
				// (a snapshot's map, which must stay as it is).
				ret := map[string]string{}
				for n := range want.SubscribedResources() {
					if rng.IntN(4) > 0 {
						ret[n] = fmt.Sprint(step)
					}
				}
				if want.IsWildcard() {
					ret["e"] = fmt.Sprint(step)
				}
				frozen := maps.Clone(ret)
				want.SetReturnedResources(maps.Clone(ret))
				got.returned = ret
				defer func() {
					if !maps.Equal(ret, frozen) {
						t.Errorf("seed %d: a returned map was written to", seed)
					}
				}()
			} else {
				req := names()
				want.SetResourceSubscription(req)
				got.update(req, shared)
			}
			if got.IsWildcard() != want.IsWildcard() ||
				!maps.Equal(got.SubscribedResources(), want.SubscribedResources()) ||
				!maps.Equal(nonNil(got.ReturnedResources()), want.ReturnedResources()) {
				t.Fatalf("seed %d step %d: got wildcard %v subscribed %v returned %v, want %v %v %v", seed, step,
					got.IsWildcard(), slices.Sorted(maps.Keys(got.SubscribedResources())), got.ReturnedResources(),
					want.IsWildcard(), slices.Sorted(maps.Keys(want.SubscribedResources())), want.ReturnedResources())
			}
		}
	}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func TestSubNamesMatches(t *testing.T) {
	s := snapshotSubNames([]string{"a", "b", "c"})()
	for _, c := range []struct {
		names []string
		want  bool
	}{
		{[]string{"a", "b", "c"}, true},
		{[]string{"c", "a", "b"}, true},
		{[]string{"a", "a", "b"}, false},
		{[]string{"a", "b"}, false},
		{[]string{"a", "b", "c", "d"}, false},
		{[]string{"a", "b", "d"}, false},
		{nil, false},
	} {
		if got := s.matches(c.names); got != c.want {
			t.Errorf("matches(%v) = %v, want %v", c.names, got, c.want)
		}
	}
	if !emptyNames.matches(nil) || emptyNames.matches([]string{"a"}) {
		t.Error("the empty set matches only no names")
	}
}

// Streams of a group that subscribe to exactly its resources share one
// name set and, once sent the whole type, one returned map: nothing of
// either per stream. An endpoint change keeps them shared (the names did
// not change), and the requests the watches keep carry the snapshot's
// list, not their own copies.
func TestSotWSubscriptionsShared(t *testing.T) {
	h, f, streams, names := edsSetup(t, 20, 3)
	check := func(when string) {
		t.Helper()
		waitFor(t, "every EDS watch held "+when, func() bool {
			held, _ := heldWatches(t, h, f.key)
			return held == 4*len(streams)
		})
		sets, rets, reqs := heldEDS(h, f.key)
		if len(sets) != 1 || len(rets) != 1 || len(reqs) != 1 {
			t.Fatalf("%s: %d name sets, %d returned maps, %d request name lists among %d streams, want one each", when, len(sets), len(rets), len(reqs), len(streams))
		}
	}
	check("after the sync")
	changeOneCLA(t, h, f, streams, names, 4, 23001)
	check("after an endpoint change")
}

// heldEDS returns the distinct name sets, returned maps and request name
// lists of group k's held EDS watches.
func heldEDS(h *harness, k translate.GroupKey) (sets map[*subNames]bool, rets, reqs map[uintptr]bool) {
	sets, rets, reqs = map[*subNames]bool{}, map[uintptr]bool{}, map[uintptr]bool{}
	s := h.pub.sotw
	s.mu.Lock()
	defer s.mu.Unlock()
	for f := range s.groups[k] {
		w := f.held[tEndpoints]
		if w == nil {
			continue
		}
		sub := w.sub.(*sotwSub)
		sets[sub.set] = true
		rets[reflect.ValueOf(sub.returned).Pointer()] = true
		reqs[reflect.ValueOf(w.req.GetResourceNames()).Pointer()] = true
	}
	return sets, rets, reqs
}

// A resource sent to a stream that had not subscribed to it does not
// count as held. grpc-go that dropped every cluster load assignment (its
// request names none) is sent every CLA on the next change (the stock
// cache answers a request naming nothing with the whole type) and drops
// them; when it subscribes to one again, with that response's version and
// nonce, the CLA is sent at once rather than never (the proxyless client
// of the CLI session tests waited for it forever, in one run of two).
func TestSotWUnsubscribedResourcesAreNotHeld(t *testing.T) {
	h := newHarness(t)
	f := newFixture("gw", translate.ClientGRPC, 2, 1)
	mustPublish(t, h.pub, f.groups(), f.clas)
	a := h.open(t, "g1", "gw", "gRPC Go")
	name := edsName(0)
	a.send(resource.EndpointType, []string{name}, "", "")
	r := expectEDS(t, a, map[string]uint32{name: firstPort(t, f.clas, name)})
	a.ack(r, []string{}) // drops it
	setPort(t, h, f, 0, 24000)
	r = a.recv(resource.EndpointType)
	if n := len(r.GetResources()); n != 2 {
		t.Fatalf("the request naming nothing got %d CLAs, want the stock cache's every one", n)
	}
	a.ack(r, []string{})
	a.expectNone(quiet / 3)
	a.ack(r, []string{name})
	expectEDS(t, a, map[string]uint32{name: 24000})
}
