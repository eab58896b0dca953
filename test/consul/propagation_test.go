package consulproc

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// Registry changes reach a real proxyless gRPC client through gatehouse:
// a deregistered instance stops getting traffic, a new one gets it, and an
// instance whose TTL check goes critical is removed. Five tries each; the
// target is under 1 s, the test fails only past 5 s (every wait is bounded).
//
//	go test ./test/consul -run TestPropagation -v
func TestPropagation(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	c := agent.Client()
	a, b, x := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "x")
	register(t, c, "app", a, true)
	register(t, c, "app", b, true)

	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{"policy.yaml": consulPolicy(map[string]string{"app": "app"})})
	g := startGatehouse(t, dir, agent.Addr)
	client := xdsClient(t, g, "propagation", "app.test")
	gatehouseproc.WaitAnswer(t, client, "a", 10*time.Second)
	gatehouseproc.WaitAnswer(t, client, "b", 5*time.Second)

	const tries, bound = 5, 5 * time.Second
	var added, removed, critical []time.Duration
	for i := 0; i < tries; i++ {
		// A new instance gets traffic.
		start := time.Now()
		register(t, c, "app", x, true)
		gatehouseproc.WaitAnswer(t, client, "x", bound)
		added = append(added, time.Since(start))

		// A failing health check removes it once Consul marks it critical.
		start = time.Now()
		if err := c.Agent().UpdateTTL("ttl-x", "failing", api.HealthCritical); err != nil {
			t.Fatal(err)
		}
		critical = append(critical, waitGone(t, client, "x", start, bound))

		// Passing again, then deregistered: traffic stops.
		if err := c.Agent().UpdateTTL("ttl-x", "ok", api.HealthPassing); err != nil {
			t.Fatal(err)
		}
		gatehouseproc.WaitAnswer(t, client, "x", bound)
		start = time.Now()
		if err := c.Agent().ServiceDeregister("x"); err != nil {
			t.Fatal(err)
		}
		removed = append(removed, waitGone(t, client, "x", start, bound))
	}
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"register -> traffic", added}, {"TTL critical -> no traffic", critical}, {"deregister -> no traffic", removed}} {
		p50, max := summary(m.ds)
		t.Logf("%-28s p50 %v, max %v over %d tries (target < 1s; fails past %v)", m.name, p50.Round(time.Millisecond), max.Round(time.Millisecond), len(m.ds), bound)
	}
	if st := g.status(); st.Consul == nil || !st.Consul.Reachable || st.Consul.LastError != "" {
		t.Fatalf("status after the changes: %s", g.statusJSON())
	}
}
