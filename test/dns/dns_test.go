package dnsproc

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// TestRecordsAddedAndRemoved: A records added to and removed from the
// zone reach a proxyless gRPC client through gatehouse's own resolution
// (TTL 1s).
func TestRecordsAddedAndRemoved(t *testing.T) {
	port := backends(t, "api-a", "api-b", "api-c")
	d := startCoreDNS(t, "api 1 IN A 127.0.0.2")
	dir := t.TempDir()
	writePolicy(t, dir, policy("api", port, ", lookupFamily: v4"))
	g := launch(t, dir, d.Addr)
	t.Logf("gatehouse ready in %v", g.WaitReady(30*time.Second).Round(time.Millisecond))
	cl := xdsClient(t, g, "node-1", "api.example")
	gatehouseproc.WaitAnswer(t, cl, "api-a", 20*time.Second)

	d.SetZone("api 1 IN A 127.0.0.2", "api 1 IN A 127.0.0.3", "api 1 IN A 127.0.0.4")
	d.waitServed("api.test", 3)
	start := time.Now()
	gatehouseproc.WaitAnswer(t, cl, "api-b", 20*time.Second)
	gatehouseproc.WaitAnswer(t, cl, "api-c", 20*time.Second)
	t.Logf("records added (served by CoreDNS) -> both new backends answered: %v (TTL 1s)", time.Since(start).Round(time.Millisecond))
	g.waitStatus("3 endpoints", 10*time.Second, func(st dnsStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 3 && s.State == "ok" && s.TTL == "1s"
	})

	d.SetZone("api 1 IN A 127.0.0.4")
	d.waitServed("api.test", 1)
	took := gatehouseproc.WaitOnly(t, cl, 20*time.Second, "api-c")
	t.Logf("records removed -> only api-c answering: %v (including 40 quiet calls)", took.Round(time.Millisecond))
}

// TestTTLRespected: gatehouse asks again when the answer's TTL ends, not
// before: a change made right after a resolution reaches the client no
// earlier than the announced next resolution, and within TTL plus a
// margin.
func TestTTLRespected(t *testing.T) {
	const ttl = 4 * time.Second
	port := backends(t, "api-a", "api-b")
	d := startCoreDNS(t, "api 4 IN A 127.0.0.2")
	dir := t.TempDir()
	writePolicy(t, dir, policy("api", port, ", lookupFamily: v4"))
	g := launch(t, dir, d.Addr)
	g.WaitReady(30 * time.Second)
	cl := xdsClient(t, g, "node-1", "api.example")
	gatehouseproc.WaitAnswer(t, cl, "api-a", 20*time.Second)

	st := g.status()
	s, ok := st.only()
	if !ok || s.TTL != ttl.String() || s.Next.IsZero() {
		t.Fatalf("status after the first answer: %+v", st.DNS)
	}
	next := s.Next
	d.SetZone("api 4 IN A 127.0.0.3")
	d.waitServed("api.test", 1)
	changed := time.Now()
	took := gatehouseproc.WaitAnswer(t, cl, "api-b", ttl+10*time.Second)
	seen := changed.Add(took)
	t.Logf("zone changed %v before the announced re-resolution; client saw it %v after the change (TTL %v)",
		next.Sub(changed).Round(time.Millisecond), took.Round(time.Millisecond), ttl)
	if seen.Before(next.Add(-50 * time.Millisecond)) {
		t.Errorf("the new address reached the client at %v, before the TTL ended (%v): the TTL was not respected", seen, next)
	}
	if took > ttl+5*time.Second {
		t.Errorf("the change took %v to reach the client; TTL is %v", took, ttl)
	}
}

// TestServerDownKeepsLastKnownGood: with the DNS server killed, the client
// keeps being served the last addresses, gatehouse_registry_up{source="dns"}
// drops to 0 and the status says so; once the server is back (with new
// records) they reach the client and the metric goes back to 1.
func TestServerDownKeepsLastKnownGood(t *testing.T) {
	port := backends(t, "api-a", "api-b")
	d := startCoreDNS(t, "api 1 IN A 127.0.0.2")
	dir := t.TempDir()
	writePolicy(t, dir, policy("api", port, ""))
	g := launch(t, dir, d.Addr)
	g.WaitReady(30 * time.Second)
	cl := xdsClient(t, g, "node-1", "api.example")
	gatehouseproc.WaitAnswer(t, cl, "api-a", 20*time.Second)
	if v := g.Metric(`gatehouse_registry_up{source="dns"}`); v != 1 {
		t.Fatalf(`gatehouse_registry_up{source="dns"} = %v while answering, want 1`, v)
	}

	d.Kill()
	down := time.Now()
	took := g.waitStatus("DNS down noticed", 20*time.Second, func(st dnsStatus) bool {
		s, ok := st.only()
		return ok && st.DNS.Reachable == false && strings.HasPrefix(s.State, "failing") && s.Endpoints == 1
	})
	t.Logf("server killed -> status failing: %v", took.Round(time.Millisecond))
	if v := g.Metric(`gatehouse_registry_up{source="dns"}`); v != 0 {
		t.Errorf(`gatehouse_registry_up{source="dns"} = %v with the server down, want 0`, v)
	}
	// Last known good, for a while (several retries).
	for time.Since(down) < 4*time.Second {
		if got := gatehouseproc.WaitOnly(t, cl, 10*time.Second, "api-a"); got > 5*time.Second {
			t.Fatalf("the last known address stopped answering steadily (%v)", got)
		}
	}
	if _, body := g.Get("/api/v1/status"); !strings.Contains(body, "last_error") {
		t.Errorf("status does not carry the error: %s", body)
	}

	d.SetZone("api 1 IN A 127.0.0.3")
	d.Start()
	back := time.Now()
	gatehouseproc.WaitAnswer(t, cl, "api-b", 30*time.Second)
	t.Logf("server back (new record) -> client on the new address: %v (retry backoff 1s doubling up to the 5s refresh rate)", time.Since(back).Round(time.Millisecond))
	g.waitStatus("up again", 10*time.Second, func(st dnsStatus) bool { return st.DNS != nil && st.DNS.Reachable })
	if v := g.Metric(`gatehouse_registry_up{source="dns"}`); v != 1 {
		t.Errorf(`gatehouse_registry_up{source="dns"} = %v after recovery, want 1`, v)
	}
}

// TestUnreachableServerHoldsFirstConfiguration: a DNS server that never
// answers keeps gatehouse not ready (no empty cluster is pushed), and the
// status says why.
func TestUnreachableServerHoldsFirstConfiguration(t *testing.T) {
	d := startCoreDNS(t, "api 1 IN A 127.0.0.2")
	d.Kill()
	dir := t.TempDir()
	writePolicy(t, dir, policy("api", 9000, ""))
	g := launch(t, dir, d.Addr)
	g.WaitHealthy(30 * time.Second)
	g.waitStatus("not synced, failing", 20*time.Second, func(st dnsStatus) bool {
		s, ok := st.only()
		return ok && !st.Ready && !st.DNS.Synced && s.State == "not resolved yet" && st.DNS.LastError != ""
	})
	if code := g.Readyz(); code == 200 {
		t.Errorf("/readyz %d with no name ever resolved; the first configuration must be held back", code)
	}
}
