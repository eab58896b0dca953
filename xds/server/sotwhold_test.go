package server

import (
	"maps"
	"slices"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// The gap the bridge alone left: a stream that has not yet ACKed its RDS
// response when a publish drops a cluster and the route naming it. Its RDS
// watch is not open, so the bridge's routes do not reach it, while its
// open CDS watch would get the removal at once: Envoy would route to a
// cluster it no longer has (503 NC) until the new routes came. The removal
// must wait until the stream ACKed routes that no longer name the cluster.
func TestSotWRemovalWaitsForRouteAck(t *testing.T) {
	h, f := published(t, 3, 2)
	e := newEnvoySotW(t, h, "e1", "gw")
	e.holdRoutes = true // its RDS ACK is late
	e.sync()
	if !e.has(clusterName(2)) || len(e.held) != 1 {
		t.Fatalf("after the initial sync: %s, %d RDS responses unanswered", e.describe(), len(e.held))
	}

	g := withoutCluster(f, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)
	e.run(300 * time.Millisecond) // a removal sent now fails the model's check
	if e.violated {
		t.FailNow()
	}
	e.release()
	e.until("the cluster removed once the routes moved", func() bool { return len(e.clusters) > 0 && !e.has(clusterName(2)) })
	wantNames(t, "clusters at the end", e.clusters, clusterName(0), clusterName(1))
}

// Publishes in flight: two removals and a re-add while one stream's RDS
// ACK is late. Another stream, which answers at once, keeps every cluster
// a route it may hold names too (the hold is per group); once the late
// stream answered, both end with the last publish's clusters, and no CDS
// response of either ever lacked a cluster of the routes it held.
func TestSotWRemovalSeveralPublishes(t *testing.T) {
	h := newHarness(t)
	f, late := publishedWithLate(t, h, 4)
	prompt := newEnvoySotW(t, h, "prompt", "gw")
	prompt.sync()

	p1 := withoutCluster(f, 3)  // c0 c1 c2
	p2 := withoutCluster(p1, 2) // c0 c1
	p3 := withoutCluster(f, 2)  // c0 c1 c3: c3 back
	for i, p := range []*fixture{p1, p2, p3} {
		mustPublish(t, h.pub, p.groups(), p.clas)
		late.run(100 * time.Millisecond)
		prompt.run(200 * time.Millisecond)
		if !prompt.has(clusterName(0), clusterName(1), clusterName(2), clusterName(3)) {
			t.Fatalf("after publish %d, the prompt stream has clusters %v: a removal went while the late stream held its routes", i+1, prompt.clusters)
		}
		if held := h.metricValue(t, "gatehouse_xds_bridges_held"); held != 1 {
			t.Fatalf("after publish %d: gatehouse_xds_bridges_held = %v, want 1", i+1, held)
		}
	}
	if late.violated || prompt.violated {
		t.FailNow()
	}
	late.release()
	want := []string{clusterName(0), clusterName(1), clusterName(3)}
	untilAll(t, "the last publish's clusters", func(e *envoySotW) bool { return slices.Equal(e.clusters, want) }, late, prompt)
	wantNames(t, "late stream's routes", late.ackedRoutes, want...)
	if held := h.metricValue(t, "gatehouse_xds_bridges_held"); held != 0 {
		t.Errorf("gatehouse_xds_bridges_held = %v after the hold, want 0", held)
	}
	if n := h.metricValue(t, "gatehouse_xds_bridge_hold_expired_total"); n != 0 {
		t.Errorf("gatehouse_xds_bridge_hold_expired_total = %v, want 0", n)
	}
	snap, _ := h.pub.envoy.GetSnapshot(f.key.String())
	if got, want := snap.GetVersion(resource.ClusterType), versionsOf(t, h.pub, f.key)[TypeClusters]; got != want {
		t.Errorf("the cache serves CDS version %s after the hold, want the published %s", got, want)
	}
}

// A stream that connects while the bridge is held is served the bridge
// (the removed cluster still there, the new routes), and its arrival does
// not end the hold for the stream still waited for.
func TestSotWRemovalStreamConnectsMidBridge(t *testing.T) {
	h := newHarness(t)
	f, late := publishedWithLate(t, h, 3)

	g := withoutCluster(f, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)
	if b, ok := h.pub.Bridge(f.key); !ok || b.GetResources(resource.ClusterType)[clusterName(2)] == nil {
		t.Fatalf("Bridge during the hold: ok %v, want the bridge with %s", ok, clusterName(2))
	}
	late.run(100 * time.Millisecond)
	mid := newEnvoySotW(t, h, "mid", "gw")
	mid.sync()
	mid.run(200 * time.Millisecond)
	if !mid.has(clusterName(2)) {
		t.Fatalf("a stream connecting during the hold has clusters %v: want the bridge's, with %s", mid.clusters, clusterName(2))
	}
	wantNames(t, "its routes", mid.ackedRoutes, clusterName(0), clusterName(1))
	late.run(200 * time.Millisecond)
	if late.violated || mid.violated {
		t.FailNow()
	}
	late.release()
	untilAll(t, "cluster removed", func(e *envoySotW) bool { return len(e.clusters) > 0 && !e.has(clusterName(2)) }, late, mid)
	if _, ok := h.pub.Bridge(f.key); ok {
		t.Error("Bridge after the hold ended: still reported")
	}
}

// A stream that NACKs the bridge's routes keeps the old ones, which name
// the removed cluster: the cluster stays, for every stream of the group,
// until the stream ACKs routes that do not name it (here a later publish's).
func TestSotWRemovalNACKKeepsCluster(t *testing.T) {
	h := newHarnessOpts(t, Options{BridgeHold: time.Minute})
	f := newFixture("gw", translate.ClientEnvoy, 3, 2)
	mustPublish(t, h.pub, f.groups(), f.clas)
	picky := newEnvoySotW(t, h, "picky", "gw")
	picky.sync()
	picky.reject = func(named []string) bool { return !slices.Contains(named, clusterName(2)) }
	other := newEnvoySotW(t, h, "other", "gw")
	other.sync()

	g := withoutCluster(f, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)
	picky.run(300 * time.Millisecond)
	other.run(300 * time.Millisecond)
	if picky.rdsNACKs != 1 {
		t.Fatalf("the picky stream NACKed %d RDS responses, want 1", picky.rdsNACKs)
	}
	wantNames(t, "its routes", picky.ackedRoutes, clusterName(0), clusterName(1), clusterName(2))
	if !other.has(clusterName(2)) || picky.violated {
		t.Fatalf("after a NACK of the new routes: other stream's clusters %v (want %s kept)", other.clusters, clusterName(2))
	}
	p, _ := h.proxy("picky")
	if p.Types[TypeRoutes].NACK == nil {
		t.Fatalf("the NACK is not recorded: %+v", p.Types[TypeRoutes])
	}

	// A later publish drops c1 as well; the picky stream takes that one.
	picky.reject = nil
	g2 := withoutCluster(g, 1)
	mustPublish(t, h.pub, g2.groups(), g2.clas)
	untilAll(t, "removals after the routes were taken", func(e *envoySotW) bool { return slices.Equal(e.clusters, []string{clusterName(0)}) }, picky, other)
	if n := h.metricValue(t, "gatehouse_xds_bridge_hold_expired_total"); n != 0 {
		t.Errorf("gatehouse_xds_bridge_hold_expired_total = %v, want 0 (no bound reached)", n)
	}
}

// A stream that never answers holds the bridge only for the bound: then
// the others get the removal, the expiry is counted and reported with the
// node, and a stream that NACKs is bounded the same way (else one stream
// could keep every dropped cluster for good).
func TestSotWRemovalHoldBound(t *testing.T) {
	for _, tc := range []struct {
		name             string
		silent, rejected []string
	}{
		{name: "silent", silent: []string{"stuck"}},
		{name: "nack", rejected: []string{"stuck"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type report struct {
				gateway          string
				silent, rejected []string
			}
			reports := make(chan report, 4)
			const bound = 300 * time.Millisecond
			h := newHarnessOpts(t, Options{BridgeHold: bound, OnBridgeHoldExpired: func(gw string, silent, rejected []string) {
				reports <- report{gw, silent, rejected}
			}})
			f := newFixture("gw", translate.ClientEnvoy, 3, 2)
			mustPublish(t, h.pub, f.groups(), f.clas)
			stuck := newEnvoySotW(t, h, "stuck", "gw")
			if tc.silent != nil {
				stuck.holdRoutes = true
			}
			stuck.sync()
			stuck.reject = func([]string) bool { return true }
			other := newEnvoySotW(t, h, "other", "gw")
			other.sync()

			g := withoutCluster(f, 2)
			start := time.Now()
			mustPublish(t, h.pub, g.groups(), g.clas)
			if tc.rejected != nil {
				stuck.until("the NACK", func() bool { return stuck.rdsNACKs == 1 })
			}
			// stuck reads no more: what reaches it after the bound is the
			// removal the bound lets through.
			other.until("removal after the bound", func() bool { return len(other.clusters) > 0 && !other.has(clusterName(2)) })
			if took := time.Since(start); took < bound {
				t.Fatalf("the removal came %v after the publish, before the %v bound", took, bound)
			}
			select {
			case r := <-reports:
				if r.gateway != "gw" || !slices.Equal(r.silent, tc.silent) || !slices.Equal(r.rejected, tc.rejected) {
					t.Errorf("OnBridgeHoldExpired(%q, %v, %v), want (gw, %v, %v)", r.gateway, r.silent, r.rejected, tc.silent, tc.rejected)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("OnBridgeHoldExpired not called")
			}
			if n := h.metricValue(t, "gatehouse_xds_bridge_hold_expired_total"); n != 1 {
				t.Errorf("gatehouse_xds_bridge_hold_expired_total = %v, want 1", n)
			}
			if held := h.metricValue(t, "gatehouse_xds_bridges_held"); held != 0 {
				t.Errorf("gatehouse_xds_bridges_held = %v, want 0", held)
			}
		})
	}
}

// A stream that ends while it holds the bridge no longer holds it: the
// others get the removal at once, not at the bound.
func TestSotWRemovalDisconnectDuringHold(t *testing.T) {
	h := newHarnessOpts(t, Options{BridgeHold: time.Minute})
	f, late := publishedWithLate(t, h, 3)
	other := newEnvoySotW(t, h, "other", "gw")
	other.sync()

	g := withoutCluster(f, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)
	other.run(300 * time.Millisecond)
	if !other.has(clusterName(2)) {
		t.Fatalf("clusters %v while a stream holds the old routes, want %s kept", other.clusters, clusterName(2))
	}
	late.a.close()
	other.until("removal once the late stream ended", func() bool { return len(other.clusters) > 0 && !other.has(clusterName(2)) })
	waitFor(t, "no bridge held", func() bool { return h.metricValue(t, "gatehouse_xds_bridges_held") == 0 })
}

// Groups nothing waits for get the final at once: an Envoy group with no
// state-of-the-world stream (a delta stream does not count: it orders its
// removals itself), and a proxyless gRPC group, which has no bridge, even
// while the Envoy group of the same Gateway is held.
func TestSotWRemovalNothingToWaitFor(t *testing.T) {
	h, f := published(t, 3, 2)
	d := h.openDelta(t, "d1", "gw")
	d.subscribe(resource.ClusterType)
	d.recv(resource.ClusterType)
	d.subscribe(resource.RouteType, "gw-http")
	d.recv(resource.RouteType) // not ACKed

	g := withoutCluster(f, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)
	if got, want := cachedVersion(t, h.pub, f.key, resource.ClusterType), versionsOf(t, h.pub, f.key)[TypeClusters]; got != want {
		t.Fatalf("no state-of-the-world stream: the cache serves CDS %s, want the final %s at once", got, want)
	}

	// The Envoy group held by a late stream; its gRPC group set at once.
	e := newEnvoySotW(t, h, "late", "gw")
	e.holdRoutes = true
	e.sync()
	fg := newFixture("gw", translate.ClientGRPC, 3, 2)
	both := func(a, b *fixture) map[translate.GroupKey]*translate.Group {
		return map[translate.GroupKey]*translate.Group{a.key: a.group, b.key: b.group}
	}
	clas := func(a, b *fixture) map[string]*endpointv3.ClusterLoadAssignment {
		out := maps.Clone(a.clas)
		maps.Copy(out, b.clas)
		return out
	}
	mustPublish(t, h.pub, both(g, fg), clas(g, fg))
	g2, fg2 := withoutCluster(g, 1), withoutCluster(fg, 1)
	mustPublish(t, h.pub, both(g2, fg2), clas(g2, fg2))
	if got, want := cachedVersion(t, h.pub, fg.key, resource.ClusterType), versionsOf(t, h.pub, fg.key)[TypeClusters]; got != want {
		t.Errorf("gRPC group: the cache serves CDS %s, want the final %s at once", got, want)
	}
	if got, final := cachedVersion(t, h.pub, f.key, resource.ClusterType), versionsOf(t, h.pub, f.key)[TypeClusters]; got == final {
		t.Errorf("Envoy group: the cache serves the final CDS while a stream holds the old routes")
	}
}

// cachedVersion is the version of a type the group's cache serves.
func cachedVersion(t *testing.T, p *Publisher, k translate.GroupKey, typeURL string) string {
	t.Helper()
	snap, err := p.cacheFor(k.Client).GetSnapshot(k.String())
	if err != nil {
		t.Fatal(err)
	}
	return snap.GetVersion(typeURL)
}

// A publish that puts back what a held bridge dropped ends the hold: the
// group gets it at once, and the late stream never loses the cluster.
func TestSotWRemovalUndoneEndsHold(t *testing.T) {
	h := newHarnessOpts(t, Options{BridgeHold: time.Minute})
	f, late := publishedWithLate(t, h, 3)

	g := withoutCluster(f, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)
	if held := h.metricValue(t, "gatehouse_xds_bridges_held"); held != 1 {
		t.Fatalf("gatehouse_xds_bridges_held = %v after the removal, want 1", held)
	}
	back := g.clone()
	back.group.Clusters, back.group.Routes, back.group.EDS, back.clas = f.group.Clusters, f.group.Routes, f.group.EDS, f.clas
	mustPublish(t, h.pub, back.groups(), back.clas)
	if held := h.metricValue(t, "gatehouse_xds_bridges_held"); held != 0 {
		t.Errorf("gatehouse_xds_bridges_held = %v after the removal was undone, want 0", held)
	}
	if got, want := cachedVersion(t, h.pub, f.key, resource.ClusterType), versionsOf(t, h.pub, f.key)[TypeClusters]; got != want {
		t.Errorf("the cache serves CDS %s, want the published %s", got, want)
	}
	late.release()
	late.run(300 * time.Millisecond)
	wantNames(t, "clusters", late.clusters, clusterName(0), clusterName(1), clusterName(2))
}

// What counts as an answer to a bridge, per stream: an ACK of both its
// versions, or not subscribing; a NACK of a version other than the
// bridge's (an earlier one) is not a rejection of it, and an ACK after a
// NACK clears it. A replaced hold keeps its deadline; a stream that
// moved to another group or ended holds nothing.
func TestBridgeHolds(t *testing.T) {
	want := [2]string{"L1", "R1"}
	for _, tc := range []struct {
		name  string
		types [2]holdType
		state streamState
	}{
		{"nothing subscribed", [2]holdType{}, streamDone},
		{"both acked", [2]holdType{{requested: true, acked: "L1", nacked: ""}, {requested: true, acked: "R1", nacked: ""}}, streamDone},
		{"only listeners, acked", [2]holdType{{requested: true, acked: "L1", nacked: ""}, {}}, streamDone},
		{"routes not yet answered", [2]holdType{{requested: true, acked: "L1", nacked: ""}, {requested: true, acked: "R0", nacked: ""}}, streamWaiting},
		{"first request pending", [2]holdType{{requested: true, acked: "L1", nacked: ""}, {requested: true, acked: "", nacked: ""}}, streamWaiting},
		{"routes rejected", [2]holdType{{requested: true, acked: "L1", nacked: ""}, {requested: true, acked: "R0", nacked: "R1"}}, streamRejected},
		{"listeners rejected", [2]holdType{{requested: true, acked: "L0", nacked: "L1"}, {requested: true, acked: "R1", nacked: ""}}, streamRejected},
		{"an earlier version rejected", [2]holdType{{requested: true, acked: "L1", nacked: ""}, {requested: true, acked: "R0", nacked: "R05"}}, streamWaiting},
		// Versions are content hashes: routes that ACKed R1, then were sent
		// R2 (naming the clusters again) and have not answered, may hold R2.
		{"acked, then sent another", [2]holdType{{requested: true, acked: "L1"}, {requested: true, acked: "R1", inFlight: "R2", inFlightNonce: "7"}}, streamWaiting},
		{"acked, then sent the same", [2]holdType{{requested: true, acked: "L1"}, {requested: true, acked: "R1", inFlight: "R1", inFlightNonce: "7"}}, streamDone},
		{"sent it, not yet answered", [2]holdType{{requested: true, acked: "L1"}, {requested: true, acked: "R0", inFlight: "R1", inFlightNonce: "7"}}, streamWaiting},
	} {
		s := &holdStream{types: tc.types}
		if got := s.state(want); got != tc.state {
			t.Errorf("%s: state %d, want %d", tc.name, got, tc.state)
		}
	}

	h, finished := newTestHolds(t)
	k := translate.GroupKey{Gateway: "gw", Client: translate.ClientEnvoy}
	h.request(1, k, "n1", tRoutes, "R0", "", "", false)
	if _, ready := h.begin(k, want); ready {
		t.Fatal("a stream holding R0 does not hold a bridge")
	}
	first := h.holds[k].deadline
	// A publish replacing the hold awaits other versions but keeps the
	// deadline: else publishes more frequent than the bound, and one
	// silent stream, would keep the dropped clusters for good.
	time.Sleep(10 * time.Millisecond)
	if _, ready := h.begin(k, [2]string{"L1", "R05"}); ready {
		t.Fatal("a stream holding R0 does not hold the replacing bridge")
	}
	if d := h.holds[k].deadline; !d.Equal(first) {
		t.Fatalf("the replacing hold's deadline moved by %v", d.Sub(first))
	}
	gen, ready := h.begin(k, want) // back to the first versions
	if ready {
		t.Fatal("a stream holding R0 does not hold the bridge")
	}
	h.request(1, k, "n1", tRoutes, "R0", "R1", "", true)
	h.request(1, k, "n1", tClusters, "C1", "", "", false) // not a type the hold waits for
	h.request(1, k, "n1", tRoutes, "R1", "", "", false)   // an ACK after the NACK
	select {
	case g := <-finished:
		if g != gen {
			t.Fatalf("finished gen %d, want %d", g, gen)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the ACK did not end the hold")
	}
	// The stream's node moves to another group: what it held there does
	// not answer this one's bridge.
	k2 := translate.GroupKey{Gateway: "other", Client: translate.ClientEnvoy}
	h.request(1, k2, "n1", tRoutes, "", "", "", false)
	if _, ready := h.begin(k, want); !ready {
		t.Error("a stream that moved to another group still holds this one's bridge")
	}
	if _, ready := h.begin(k2, want); ready {
		t.Error("a stream with no routes yet does not hold its new group's bridge")
	}
	h.closed(1)
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the stream did not end its group's hold")
	}
}

// publishedWithLate publishes group gw with n clusters of 2 endpoints and
// syncs a stream, "late", that will hold back its next routes' ACK: the
// stream a bridge waits for.
func publishedWithLate(t *testing.T, h *harness, n int) (*fixture, *envoySotW) {
	t.Helper()
	f := newFixture("gw", translate.ClientEnvoy, n, 2)
	mustPublish(t, h.pub, f.groups(), f.clas)
	late := newEnvoySotW(t, h, "late", "gw")
	late.holdRoutes = true
	late.sync()
	return f, late
}

// A stream whose last ACK equals the bridge's routes version, but which
// was sent other routes since and has not answered them, may hold those
// (a cluster removed, added back and removed again: the versions are
// content hashes, so the bridge's routes can be the ones it ACKed before).
// The hold waits for its answer to what it was sent; an answer with a
// stale nonce is not one.
func TestBridgeHoldWaitsForWhatWasSent(t *testing.T) {
	h, finished := newTestHolds(t)
	k := translate.GroupKey{Gateway: "gw", Client: translate.ClientEnvoy}
	want := [2]string{"", "R1"}
	h.request(1, k, "n1", tRoutes, "R1", "", "4", false) // holds R1
	h.sent(1, tRoutes, "R2", "5")                        // R2 names the clusters again
	if _, ready := h.begin(k, want); ready {
		t.Fatal("a stream sent R2 and not yet answering counts as holding R1")
	}
	h.request(1, k, "n1", tRoutes, "R1", "", "4", false) // a stale nonce: not the answer
	h.request(1, k, "n1", tRoutes, "R2", "", "5", false) // it ACKs R2
	select {
	case <-finished:
		t.Fatal("the hold ended while the stream holds R2")
	case <-time.After(20 * time.Millisecond):
	}
	h.sent(1, tRoutes, "R1", "6") // the bridge's routes
	h.request(1, k, "n1", tRoutes, "R1", "", "6", false)
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("the ACK of the bridge's routes did not end the hold")
	}
}

// newTestHolds is a bridgeHolds with a one-minute bound whose finishes
// arrive on the channel returned.
func newTestHolds(t *testing.T) (*bridgeHolds, chan uint64) {
	t.Helper()
	m, err := newServerMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newBridgeHolds(time.Minute, m)
	finished := make(chan uint64, 4)
	h.finish = func(_ translate.GroupKey, gen uint64) { finished <- gen }
	return h, finished
}
