package server

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// trackedSotW is an envoySotW that also keeps the CLAs it holds, by first
// port, as Envoy does: a CLA arrives in an EDS response (state of the
// world for EDS may carry only some of the subscribed ones) and goes with
// its cluster.
type trackedSotW struct {
	*envoySotW
	ports map[string]uint32
}

func (e *trackedSotW) take(t *testing.T) bool {
	select {
	case r, ok := <-e.a.resp:
		if !ok {
			t.Fatalf("%s: stream closed", e.a.node.GetId())
		}
		if r.GetTypeUrl() == resource.EndpointType {
			clas := anyCLAs(t, r.GetResources())
			for n := range clas {
				e.ports[n] = firstPort(t, clas, n)
			}
		}
		e.handle(r)
		if r.GetTypeUrl() == resource.ClusterType {
			for n := range e.ports {
				if !slices.Contains(e.eds, n) {
					delete(e.ports, n)
				}
			}
		}
		return true
	default:
		return false
	}
}

// Random publishes (endpoint changes, clusters removed and added back)
// against state-of-the-world streams that answer at random moments, so
// that their watches are held, answered at once (late ACKs), handed to
// the cache (bridge snapshots) or answered in ADS order: no stream ever
// holds routes naming a cluster it was not sent (envoySotW checks every
// CDS response), and once the publishes stop every stream converges to
// the last snapshot: its clusters, and every CLA at its last content.
func TestSotWConvergesUnderRandomPublishes(t *testing.T) {
	const n = 10
	h := newHarness(t)
	full := newFixture("gw", translate.ClientEnvoy, n, 2)
	rng := rand.New(rand.NewSource(12))
	active := map[int]bool{}
	ports := map[int]int{}
	for i := range n {
		active[i] = true
		ports[i] = 10000 + i
	}
	build := func() *fixture {
		g := full.clone()
		for i := range n {
			if !active[i] {
				g = withoutCluster(g, i)
			}
		}
		for i := range n {
			if active[i] {
				g.clas[edsName(i)] = testCLA(edsName(i), ports[i], 2)
			}
		}
		return g
	}
	f := build()
	mustPublish(t, h.pub, f.groups(), f.clas)
	var streams []*trackedSotW
	for i := range 6 {
		e := &trackedSotW{envoySotW: newEnvoySotW(t, h, fmt.Sprintf("r%d", i), "gw"), ports: map[string]uint32{}}
		e.sync()
		streams = append(streams, e)
	}
	// Sixty rounds at least, more (bounded) until every answer path was
	// taken: which one a watch takes depends on timing.
	allPaths := func() bool {
		a := answers(h)
		return a.immediate > 0 && a.shared > 0 && a.byCache > 0
	}
	for round := 0; round < 60 || !allPaths() && round < 2000; round++ {
		switch k := rng.Intn(10); {
		case k < 6: // endpoint changes
			for range 1 + rng.Intn(3) {
				i := rng.Intn(n)
				if active[i] {
					ports[i] = 20000 + (100*round+i)%20000
				}
			}
		case k < 8: // a cluster goes
			if len(active) > 4 {
				i := rng.Intn(n)
				delete(active, i)
			}
		default: // one comes back, perhaps with new endpoints
			i := rng.Intn(n)
			active[i] = true
			if rng.Intn(2) == 0 {
				ports[i] = 40000 + (100*round+i)%20000
			}
		}
		f = build()
		mustPublish(t, h.pub, f.groups(), f.clas)
		for _, e := range streams {
			for range rng.Intn(6) { // some answer at once, some late
				if !e.take(t) {
					break
				}
			}
		}
		if rng.Intn(4) == 0 {
			time.Sleep(time.Millisecond)
		}
	}

	var want []string
	for i := range n {
		if active[i] {
			want = append(want, clusterName(i))
		}
	}
	converged := func(e *trackedSotW) bool {
		if !slices.Equal(e.clusters, want) {
			return false
		}
		for i := range n {
			if active[i] && e.ports[edsName(i)] != uint32(ports[i]) {
				return false
			}
		}
		return true
	}
	converge := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			done := true
			for _, e := range streams {
				for e.take(t) {
				}
				done = done && converged(e)
			}
			if done {
				return
			}
			if time.Now().After(deadline) {
				for _, e := range streams {
					t.Logf("%s: clusters %v (want %v), CLAs %v", e.a.node.GetId(), e.clusters, want, e.ports)
				}
				t.Fatalf("streams did not converge to %s within 10 s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	converge("the last snapshot")
	// Every stream is now up to date and waits: one more endpoint change
	// reaches each through its held watch.
	for i := range n {
		if active[i] {
			ports[i] = 60000 + i
			break
		}
	}
	f = build()
	mustPublish(t, h.pub, f.groups(), f.clas)
	converge("an endpoint change published to streams at rest")
	for _, e := range streams {
		if e.violated {
			t.Errorf("%s: held routes naming a cluster it was not sent", e.a.node.GetId())
		}
	}
	got := answers(h)
	t.Logf("answers: %+v", got)
	if got.immediate == 0 || got.shared == 0 || got.byCache == 0 {
		t.Errorf("answers %+v: the run did not go through every path (at once, held, by the cache)", got)
	}
}
