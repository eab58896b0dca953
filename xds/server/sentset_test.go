package server

import (
	"fmt"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// The overlay holds exactly what a plain map would through random sets,
// deletes (of base names and others, versions "" included) and re-bases
// onto random snapshots, and never writes its base.
func TestSentVersionsMatchesAMap(t *testing.T) {
	defer rebaseMin.Store(rebaseMin.Load())
	for _, min := range []int{1, 4, 64} {
		rebaseMin.Store(int64(min))
		for seed := range uint64(50) {
			rng := rand.New(rand.NewPCG(seed, 3))
			name := func() string { return fmt.Sprintf("r%d", rng.IntN(40)) }
			version := func() string { return []string{"", "a", "b", "c"}[rng.IntN(4)] }
			snapshot := func() map[string]string {
				m := map[string]string{}
				for range rng.IntN(40) {
					m[name()] = version()
				}
				return m
			}
			model := snapshot()
			s := newSentVersions(maps.Clone(model))
			var bases []map[string]string
			for step := range 200 {
				switch rng.IntN(3) {
				case 0:
					n, v := name(), version()
					s.set(n, v)
					model[n] = v
				case 1:
					n := name()
					s.del(n)
					delete(model, n)
				case 2:
					b := snapshot()
					bases = append(bases, b)
					bases = append(bases, maps.Clone(b)) // its pristine copy
					s.compact(b)
				}
				got := map[string]string{}
				s.each(func(n, v string) { got[n] = v })
				if !maps.Equal(got, model) || s.len() != len(model) {
					t.Fatalf("min %d seed %d step %d: overlay holds %v (len %d), want %v", min, seed, step, got, s.len(), model)
				}
				for n, v := range model {
					if g, ok := s.get(n); !ok || g != v {
						t.Fatalf("min %d seed %d step %d: get(%s) = %q %v, want %q", min, seed, step, n, g, ok, v)
					}
				}
			}
			for i := 0; i < len(bases); i += 2 {
				if !maps.Equal(bases[i], bases[i+1]) {
					t.Fatalf("min %d seed %d: a base was written", min, seed)
				}
			}
		}
	}
}

// The differential test against go-control-plane's cache, with the
// overlay re-based after every diff (the fixture's few names never reach
// the default threshold).
func TestDeltaConnMatchesStockCacheRebasing(t *testing.T) {
	defer rebaseMin.Store(rebaseMin.Load())
	rebaseMin.Store(1)
	TestDeltaConnMatchesStockCache(t)
}

// After the initial sync and a series of changes, a stream of 1,000
// subscribed names holds no copy of them: its overlay is re-based on the
// current snapshot's own versions map.
func TestDeltaStreamSharesTheSnapshotsVersions(t *testing.T) {
	const names = 1000
	p := newTestPublisher(t)
	f := newFixture("gw", "envoy", names, 1)
	mustPublish(t, p, f.groups(), f.clas)
	sub := edsNames(names)
	conn := newDeltaConn(p.delta, p.grpc)
	c := newWatchClient(t, conn, resource.EndpointType)
	c.request(sub, nil, nil)
	for change := range 3 * int(rebaseMin.Load()) {
		f = f.clone()
		n := edsName(change % names)
		f.clas[n] = testCLA(n, 20000+change, 1)
		mustPublish(t, p, f.groups(), f.clas)
		c.drain()
	}
	cur := p.delta.current(f.key).types[tEndpoints].versions
	w := &conn.types[tEndpoints]
	if int64(len(w.sent.over)) >= rebaseMin.Load() || w.sent.len() != names {
		t.Fatalf("stream holds %d names with an overlay of %d entries, want %d names and fewer than %d", w.sent.len(), len(w.sent.over), names, rebaseMin.Load())
	}
	have := maps.Clone(c.have)
	shortenWireVersions(have) // the wire's versions, in the snapshot's form
	if len(w.sent.base) != names || !maps.Equal(have, cur) {
		t.Fatalf("stream's base has %d names; client holds the snapshot: %v", len(w.sent.base), maps.Equal(c.have, cur))
	}
}

// A stream that holds nothing and subscribes to exactly a type's names (a
// new Envoy) is sent the whole type and then holds the snapshot's own
// versions map with no overlay of its own: nothing per name. One that
// subscribes to some of them, or to a name the snapshot lacks, keeps the
// general path.
func TestDeltaFirstSyncHoldsTheSnapshotsVersions(t *testing.T) {
	const names = 200
	p := newTestPublisher(t)
	f := newFixture("gw", "envoy", names, 1)
	mustPublish(t, p, f.groups(), f.clas)
	all := edsNames(names)
	cur := p.delta.current(f.key).types[tEndpoints].versions
	for _, c := range []struct {
		name   string
		sub    []string
		shared bool
	}{
		{"every name", all, true},
		{"some names", all[:names/2], false},
		// The general path, which compact then re-bases on the snapshot.
		{"every name and one absent", append(slices.Clone(all), "absent"), true},
	} {
		conn := newDeltaConn(p.delta, p.grpc)
		wc := newWatchClient(t, conn, resource.EndpointType)
		wc.request(c.sub, nil, nil)
		wc.drain()
		w := &conn.types[tEndpoints]
		want := min(len(c.sub), names)
		if len(wc.have) != want || w.sent.len() != want {
			t.Fatalf("%s: client holds %d, stream records %d, want %d", c.name, len(wc.have), w.sent.len(), want)
		}
		shared := len(w.sent.over) == 0 && reflect.ValueOf(w.sent.base).Pointer() == reflect.ValueOf(cur).Pointer()
		if shared != c.shared {
			t.Fatalf("%s: stream holds the snapshot's map with no overlay: %v, want %v", c.name, shared, c.shared)
		}
		conn.close()
	}

	// The first sync records nothing per name: a few allocations (the
	// response and its list), where inserting every name into a map of
	// the stream's own made dozens (the map's growth).
	snap := p.delta.current(f.key)
	for _, wildcard := range []bool{false, true} {
		sub := all
		if wildcard {
			sub = nil
		}
		allocs := testing.AllocsPerRun(20, func() {
			w := &deltaWatch{sub: stream.NewDeltaSubscription(sub, nil, nil, true), sent: newSentVersions(nil)}
			if r := w.diffAll(snap, tEndpoints); r == nil || len(r.resources) != names {
				t.Fatalf("first sync sent %v, want %d CLAs", r, names)
			}
		})
		// The subscription itself (built above, each run) is most of it.
		base := testing.AllocsPerRun(20, func() {
			_ = &deltaWatch{sub: stream.NewDeltaSubscription(sub, nil, nil, true), sent: newSentVersions(nil)}
		})
		if extra := allocs - base; extra > 6 {
			t.Fatalf("wildcard %v: the first sync of %d names made %.0f allocations beyond the subscription's, want a few", wildcard, names, extra)
		}
	}
}

// A NACK leaves what the stream was sent in place: the rejected version is
// not sent again (no loop), and the next change sends only what changed.
func TestDeltaNACKIsNotResent(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", "envoy", 100, 1)
	mustPublish(t, p, f.groups(), f.clas)
	sub := []string{edsName(1), edsName(2), edsName(3)}
	conn := newDeltaConn(p.delta, p.grpc)
	c := newWatchClient(t, conn, resource.EndpointType)
	c.request(sub, nil, nil)
	if c.sent != 3 {
		t.Fatalf("initial sync sent %d resources, want 3", c.sent)
	}
	f = f.clone()
	f.clas[edsName(2)] = testCLA(edsName(2), 20002, 1)
	mustPublish(t, p, f.groups(), f.clas)
	// Take the change's response without ACKing it, then NACK it.
	var r *discoveryv3.DeltaDiscoveryResponse
	select {
	case d := <-c.out:
		var err error
		if r, err = d.GetDeltaDiscoveryResponse(); err != nil {
			t.Fatal(err)
		}
		c.sub.SetReturnedResources(d.GetReturnedResources())
	default:
		t.Fatal("no response to the change")
	}
	if len(r.GetResources()) != 1 || r.GetResources()[0].GetName() != edsName(2) {
		t.Fatalf("change sent %v, want %s only", r.GetResources(), edsName(2))
	}
	c.cancel()
	nack := &discoveryv3.DeltaDiscoveryRequest{Node: c.node, TypeUrl: c.typ, ResponseNonce: "n",
		ErrorDetail: &status.Status{Code: 3, Message: "rejected"}}
	cancel, err := conn.CreateDeltaWatch(nack, c.sub, c.out)
	if err != nil {
		t.Fatal(err)
	}
	c.cancel = cancel
	select {
	case d := <-c.out:
		resp, _ := d.GetDeltaDiscoveryResponse()
		t.Fatalf("the NACK was answered with %v", resp)
	default:
	}
	// The next change sends its own resource only, not the NACKed one.
	before := c.sent
	f = f.clone()
	f.clas[edsName(3)] = testCLA(edsName(3), 20003, 1)
	mustPublish(t, p, f.groups(), f.clas)
	c.drain()
	if c.sent-before != 1 || c.have[edsName(3)][:16] != p.delta.current(f.key).types[tEndpoints].versions[edsName(3)] {
		t.Fatalf("after the NACK a change sent %d resources, want the changed one only", c.sent-before)
	}
}

// A reconnecting client that names what it holds in
// initial_resource_versions gets nothing it has; a stale version and a
// name gone from the snapshot are corrected (sent, removed).
func TestDeltaReconnectWithInitialVersions(t *testing.T) {
	const names = 200
	p := newTestPublisher(t)
	f := newFixture("gw", "envoy", names, 1)
	mustPublish(t, p, f.groups(), f.clas)
	sub := make([]string, names)
	for i := range sub {
		sub[i] = edsName(i)
	}
	first := newWatchClient(t, newDeltaConn(p.delta, p.grpc), resource.EndpointType)
	first.request(sub, nil, nil)
	if first.sent != names {
		t.Fatalf("initial sync sent %d, want %d", first.sent, names)
	}
	initial := maps.Clone(first.have)
	// The tracker's callback cuts the wire's versions to the snapshot's
	// form before the server builds the subscription (delta.go).
	shortenWireVersions(initial)
	again := newWatchClient(t, newDeltaConn(p.delta, p.grpc), resource.EndpointType)
	again.request(sub, nil, maps.Clone(initial))
	if again.sent != 0 {
		t.Fatalf("reconnect with every current version re-sent %d resources", again.sent)
	}
	// Stale and vanished entries: only those are corrected.
	initial[edsName(5)] = "stale"
	initial["gone"] = "0123456789abcdef"
	third := newWatchClient(t, newDeltaConn(p.delta, p.grpc), resource.EndpointType)
	third.have = maps.Clone(first.have)
	third.have[edsName(5)], third.have["gone"] = "stale", "0123456789abcdef"
	third.request(append(sub, "gone"), nil, maps.Clone(initial))
	if third.sent != 1 || !maps.Equal(third.have, first.have) {
		t.Fatalf("reconnect with one stale version sent %d resources (want 1); holds the snapshot: %v", third.sent, maps.Equal(third.have, first.have))
	}
}

// A request's names that the group's snapshot has are replaced by the
// snapshot's own strings (shared by every stream); others, which a client
// may invent at will, stay its own and are recorded nowhere.
func TestDeltaHubInternsRequestNames(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", "envoy", 10, 1)
	mustPublish(t, p, f.groups(), f.clas)
	snapNames := p.delta.current(f.key).types[tEndpoints].names
	own := func(s string) string { return string([]byte(s)) } // a fresh copy, as decoding makes
	req := []string{own(edsName(3)), own("invented"), own(edsName(7))}
	invented := unsafe.StringData(req[1])
	p.delta.intern(f.key, tEndpoints, req)
	for _, i := range []int{0, 2} {
		j, _ := slices.BinarySearch(snapNames, req[i])
		if unsafe.StringData(req[i]) != unsafe.StringData(snapNames[j]) {
			t.Errorf("%s not interned", req[i])
		}
	}
	if req[1] != "invented" || unsafe.StringData(req[1]) != invented {
		t.Errorf("an unknown name was replaced: %q", req[1])
	}
	if got := len(p.delta.current(f.key).types[tEndpoints].names); got != 10 {
		t.Errorf("interning changed the snapshot's names: %d", got)
	}
	// No snapshot for the group: nothing happens.
	p.delta.intern(translate.GroupKey{Gateway: "none", Client: translate.ClientEnvoy}, tEndpoints, req)
}

// edsNames is the EDS names of a fixture of n clusters, in order.
func edsNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = edsName(i)
	}
	return out
}
