package server

import (
	"maps"
	"math/rand/v2"
	"runtime"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
)

// watchClient drives a cache.ConfigWatcher as go-control-plane's delta
// server does (pkg/server/delta/v3/server.go): one subscription per type,
// updated from each request after the previous watch is cancelled, and the
// returned resources of every response handed back to it. have is what the
// client holds after applying the responses.
type watchClient struct {
	t      *testing.T
	w      cache.ConfigWatcher
	node   *corev3.Node
	typ    string
	sub    stream.Subscription
	opened bool
	cancel func()
	out    chan cache.DeltaResponse
	nonce  int
	have   map[string]string
	sent   int // resources received
}

func newWatchClient(t *testing.T, w cache.ConfigWatcher, typ string) *watchClient {
	return &watchClient{t: t, w: w, typ: typ, node: &corev3.Node{Id: "n", Cluster: "gw", UserAgentName: "envoy"},
		out: make(chan cache.DeltaResponse, 16), have: map[string]string{}}
}

// request sends one request and then ACKs every response until none is
// left (all responses are queued synchronously, by CreateDeltaWatch or
// Publish).
func (c *watchClient) request(subscribe, unsubscribe []string, initial map[string]string) {
	c.t.Helper()
	req := &discoveryv3.DeltaDiscoveryRequest{Node: c.node, TypeUrl: c.typ, ResourceNamesSubscribe: subscribe,
		ResourceNamesUnsubscribe: unsubscribe, InitialResourceVersions: initial}
	if c.nonce > 0 {
		req.ResponseNonce = "n"
	}
	if !c.opened {
		c.sub = stream.NewDeltaSubscription(subscribe, unsubscribe, initial, true)
		c.opened = true
	} else {
		if c.cancel != nil {
			c.cancel()
		}
		c.sub.UpdateResourceSubscriptions(subscribe, unsubscribe)
	}
	cancel, err := c.w.CreateDeltaWatch(req, c.sub, c.out)
	if err != nil {
		c.t.Fatal(err)
	}
	c.cancel = cancel
	c.drain()
}

// drain applies and ACKs the queued responses.
func (c *watchClient) drain() {
	c.t.Helper()
	for {
		select {
		case r := <-c.out:
			resp, err := r.GetDeltaDiscoveryResponse()
			if err != nil {
				c.t.Fatal(err)
			}
			for _, res := range resp.GetResources() {
				c.have[res.GetName()] = res.GetVersion()
				c.sent++
			}
			for _, n := range resp.GetRemovedResources() {
				delete(c.have, n)
			}
			c.sub.SetReturnedResources(r.GetReturnedResources())
			c.nonce++
			c.request(nil, nil, nil) // the ACK
			return
		default:
			return
		}
	}
}

// TestDeltaConnMatchesStockCache drives gatehouse's delta watcher and
// go-control-plane's SnapshotCache through the same random sequences of
// subscriptions (wildcard, names, "*" toggled, unsubscribes, stale initial
// versions) and publishes (resources changed, added and removed), and
// checks that after every step each client holds exactly the same
// resources at the same versions.
func TestDeltaConnMatchesStockCache(t *testing.T) {
	for _, typ := range []string{resource.EndpointType, resource.ClusterType} {
		for seed := range uint64(40) {
			rng := rand.New(rand.NewPCG(seed, 7))
			p := newTestPublisher(t)
			f := newFixture("gw", "envoy", 5, 1)
			mustPublish(t, p, f.groups(), f.clas)
			name := func() string {
				i := rng.IntN(8)
				if typ == resource.EndpointType {
					return edsName(i)
				}
				return clusterName(i)
			}
			names := func() []string {
				var out []string
				for range rng.IntN(3) {
					if rng.IntN(5) == 0 {
						out = append(out, "*")
					} else {
						out = append(out, name())
					}
				}
				return out
			}
			ours := newWatchClient(t, newDeltaConn(p.delta, p.grpc), typ)
			stock := newWatchClient(t, p.envoy, typ)
			var initial map[string]string
			if rng.IntN(2) == 0 {
				initial = map[string]string{name(): "stale", name(): "0123456789abcdef"}
			}
			first := names()
			t.Logf("%s seed %d: first %v initial %v", typ, seed, first, initial)
			ours.request(first, nil, maps.Clone(initial))
			stock.request(first, nil, maps.Clone(initial))
			for step := range 30 {
				switch rng.IntN(4) {
				case 0:
					sub := names()
					t.Logf("step %d: subscribe %v", step, sub)
					ours.request(sub, nil, nil)
					stock.request(sub, nil, nil)
				case 1:
					unsub := names()
					t.Logf("step %d: unsubscribe %v", step, unsub)
					ours.request(nil, unsub, nil)
					stock.request(nil, unsub, nil)
				case 2:
					i := rng.IntN(8)
					if _, ok := f.clas[edsName(i)]; ok {
						f = f.clone()
						f.clas[edsName(i)] = testCLA(edsName(i), 20000+step, 1)
						t.Logf("step %d: change %s", step, edsName(i))
						mustPublish(t, p, f.groups(), f.clas)
					}
				case 3:
					// Clusters and their CLAs added or removed.
					clas := f.clas
					f = newFixture("gw", "envoy", 2+rng.IntN(6), 1)
					t.Logf("step %d: resize to %d", step, len(f.clas))
					for n, c := range clas {
						if _, ok := f.clas[n]; ok {
							f.clas[n] = c
						}
					}
					mustPublish(t, p, f.groups(), f.clas)
				}
				ours.drain()
				stock.drain()
				t.Logf("  ours %v stock %v wildcard %v subscribed %v", len(ours.have), len(stock.have), ours.sub.IsWildcard(), ours.sub.SubscribedResources())
				if !maps.Equal(ours.have, stock.have) {
					t.Fatalf("%s seed %d step %d: gatehouse client holds %v, stock %v", typ, seed, step, ours.have, stock.have)
				}
			}
		}
	}
}

// TestDeltaChangeCostPerStream checks the cost the delta path exists to
// remove: with 1,000 EDS names subscribed per stream, one endpoint change
// and every stream's ACK of it must cost each stream a small, constant
// amount of memory, not a walk of its subscription and a new 1,000-entry
// version map (go-control-plane's SnapshotCache allocates about 160 KB per
// stream here, on the change and again on the ACK).
func TestDeltaChangeCostPerStream(t *testing.T) {
	const names = 1000
	perStream := func(streams int) uint64 {
		p := newTestPublisher(t)
		f := newFixture("gw", "envoy", names, 1)
		mustPublish(t, p, f.groups(), f.clas)
		sub := make([]string, names)
		for i := range sub {
			sub[i] = edsName(i)
		}
		clients := make([]*watchClient, streams)
		for i := range clients {
			clients[i] = newWatchClient(t, newDeltaConn(p.delta, p.grpc), resource.EndpointType)
			clients[i].request(sub, nil, nil)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for change := range 5 {
			f = f.clone()
			f.clas[edsName(7)] = testCLA(edsName(7), 20000+change, 1)
			mustPublish(t, p, f.groups(), f.clas)
			for _, c := range clients {
				c.drain()
			}
		}
		runtime.ReadMemStats(&after)
		for _, c := range clients {
			if c.sent != names+5 {
				t.Fatalf("a stream received %d resources, want %d", c.sent, names+5)
			}
		}
		return (after.TotalAlloc - before.TotalAlloc) / 5
	}
	one, many := perStream(1), perStream(41)
	per := (many - one) / 40
	t.Logf("one change: %d bytes with one stream, %d with 41: %d per stream", one, many, per)
	if per > 4096 {
		t.Errorf("one change costs %d bytes per stream, want <= 4096 (independent of the %d subscribed names)", per, names)
	}
}

// publish lists a group's streams, then updates each without the hub's
// lock: a stream whose node moved it to another group meanwhile must get
// nothing of the group it left (update checks the key under the stream's
// lock). The interleaving is forced by calling update with the old group.
func TestDeltaUpdateIgnoresAGroupTheStreamLeft(t *testing.T) {
	p := newTestPublisher(t)
	a, b := newFixture("gw", "envoy", 3, 1), newFixture("other", "envoy", 3, 1)
	mustPublish(t, p, a.groups(), a.clas)
	mustPublish(t, p, b.groups(), b.clas)
	conn := newDeltaConn(p.delta, p.grpc)
	c := newWatchClient(t, conn, resource.EndpointType)
	c.node = &corev3.Node{Id: "n", Cluster: "other", UserAgentName: "envoy"}
	c.request([]string{edsName(0)}, nil, nil)
	before := c.sent
	a = a.clone()
	a.clas[edsName(0)] = testCLA(edsName(0), 20001, 1)
	mustPublish(t, p, a.groups(), a.clas) // gw's stream list does not hold conn
	cur := p.delta.current(a.key)
	if cur == nil {
		t.Fatal("no delta snapshot for gw")
	}
	conn.update(a.key, cur) // as if conn had been listed before it moved
	c.drain()
	if c.sent != before {
		t.Fatalf("a stream of group other received %d resources of group gw", c.sent-before)
	}
}
