package eurekaproc

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/eureka/eurekatest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// TestEurekaScaleUpDown: instances registered by eureka-js-client (the
// official JavaScript client) reach a proxyless gRPC client through
// gatehouse: scale up, a client reporting DOWN, an operator's
// OUT_OF_SERVICE override (and its removal), and a deregistration on stop.
func TestEurekaScaleUpDown(t *testing.T) {
	srv := eurekatest.Start(t)
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	ra := register(t, srv.URL, "cart", "cart-a", a.Port, "z1")
	g := launch(t, policyDir(t), "--eureka-url", srv.URL)
	t.Logf("gatehouse ready in %v", g.WaitReady(30*time.Second).Round(time.Millisecond))
	cl := xdsClient(t, g)
	gatehouseproc.WaitAnswer(t, cl, "a", 20*time.Second)

	// Scale up.
	rb := register(t, srv.URL, "cart", "cart-b", b.Port, "z1")
	t.Logf("eureka-js-client registered -> first call to it: %v (poll interval 200ms)", gatehouseproc.WaitAnswer(t, cl, "b", 20*time.Second).Round(time.Millisecond))
	register(t, srv.URL, "cart", "cart-c", c.Port, "z2")
	gatehouseproc.WaitAnswer(t, cl, "c", 20*time.Second)
	g.waitStatus("3 endpoints", 10*time.Second, func(st eurekaStatus) bool {
		return st.Eureka != nil && len(st.Eureka.Services) == 1 && st.Eureka.Services[0].Endpoints == 3 && st.Eureka.Services[0].State == "ok"
	})

	// b reports DOWN itself (re-registration by the client): no traffic.
	rb.status("DOWN")
	gatehouseproc.WaitOnly(t, cl, 20*time.Second, "a", "c")
	// c taken out of service by an operator (a status override).
	override(t, srv.URL, "CART", "cart-c", "PUT", "OUT_OF_SERVICE")
	gatehouseproc.WaitOnly(t, cl, 20*time.Second, "a")
	// b back UP, c's override removed (UP).
	rb.status("UP")
	override(t, srv.URL, "CART", "cart-c", "DELETE", "UP")
	gatehouseproc.WaitAnswer(t, cl, "b", 20*time.Second)
	gatehouseproc.WaitAnswer(t, cl, "c", 20*time.Second)

	// Scale down: a stops (eureka-js-client deregisters it).
	ra.stop()
	took := gatehouseproc.WaitOnly(t, cl, 20*time.Second, "b", "c")
	t.Logf("scale 3 -> 2 (a deregistered) reached the client in %v (including 40 quiet calls)", took.Round(time.Millisecond))

	if v := g.Metric(`gatehouse_registry_up{source="eureka"}`); v != 1 {
		t.Errorf(`gatehouse_registry_up{source="eureka"} = %v, want 1`, v)
	}
	st := g.status()
	if st.Eureka.Fetches.Full != 1 || st.Eureka.Fetches.Delta == 0 || st.Eureka.Fetches.HashMismatches != 0 {
		t.Errorf("fetches %+v: want 1 full, the rest deltas, no hash mismatch", st.Eureka.Fetches)
	}
	out, err := gatehouseproc.Run(gatehouseBin, "status", "--server", g.AdminAddr)
	if err != nil || !strings.Contains(out, "Eureka "+srv.URL) || !strings.Contains(out, "CART") || !strings.Contains(out, "eureka: up, synced, 1 in use") {
		t.Errorf("gatehouse status (err %v) lacks the Eureka section:\n%s", err, out)
	}
	t.Logf("gatehouse status:\n%s", out)
}

// TestEurekaHashMismatchFullFetch: while the server's delta queue drops
// changes, a delta alone would miss a new instance; its hash code differs
// from gatehouse's mirror, so gatehouse fetches the whole registry and
// the instance reaches the client.
func TestEurekaHashMismatchFullFetch(t *testing.T) {
	srv := eurekatest.Start(t)
	a, b := startBackend(t, "a"), startBackend(t, "b")
	register(t, srv.URL, "cart", "cart-a", a.Port, "")
	g := launch(t, policyDir(t), "--eureka-url", srv.URL)
	g.WaitReady(30 * time.Second)
	cl := xdsClient(t, g)
	gatehouseproc.WaitAnswer(t, cl, "a", 20*time.Second)
	g.waitStatus("a delta fetched", 10*time.Second, func(st eurekaStatus) bool { return st.Eureka != nil && st.Eureka.Fetches.Delta > 0 })

	srv.DropDelta(true)
	register(t, srv.URL, "cart", "cart-b", b.Port, "")
	took := gatehouseproc.WaitAnswer(t, cl, "b", 20*time.Second)
	t.Logf("registered with the delta queue dropping it -> first call: %v", took.Round(time.Millisecond))
	st := g.status()
	if st.Eureka.Fetches.HashMismatches == 0 || st.Eureka.Fetches.Full < 2 || st.Eureka.HashCode != "UP_2_" {
		t.Errorf("fetches %+v hash %q: want a mismatch, a second full fetch, UP_2_", st.Eureka.Fetches, st.Eureka.HashCode)
	}
}

// TestEurekaFailoverAndOutage: two Eureka servers (eureka-js-client
// registers with both, as peers replicate). The first stops: gatehouse
// reads the second, and a change there reaches the client. Both stop: the
// last known endpoints keep answering, gatehouse_registry_up is 0, and a
// gatehouse started now is not ready (nothing pushed). The second comes
// back: up, ready, and changes flow again.
func TestEurekaFailoverAndOutage(t *testing.T) {
	s1, s2 := eurekatest.Start(t), eurekatest.Start(t)
	urls := s1.URL + "," + s2.URL
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	register(t, urls, "cart", "cart-a", a.Port, "")
	dir := policyDir(t)
	g := launch(t, dir, "--eureka-url", urls)
	g.WaitReady(30 * time.Second)
	cl := xdsClient(t, g)
	gatehouseproc.WaitAnswer(t, cl, "a", 20*time.Second)

	s1.Stop()
	register(t, s2.URL, "cart", "cart-b", b.Port, "") // the first server is down: only the second has it
	took := gatehouseproc.WaitAnswer(t, cl, "b", 20*time.Second)
	t.Logf("first server stopped, b registered with the second -> first call to b: %v", took.Round(time.Millisecond))
	g.waitStatus("on the second server", 10*time.Second, func(st eurekaStatus) bool {
		return st.Eureka != nil && st.Eureka.Server == s2.URL && st.Eureka.Reachable && st.Eureka.Fetches.Failovers >= 1
	})
	if v := g.Metric(`gatehouse_registry_up{source="eureka"}`); v != 1 {
		t.Errorf(`after failover gatehouse_registry_up{source="eureka"} = %v, want 1`, v)
	}

	// Both down.
	s2.Stop()
	took = g.waitStatus("down", 10*time.Second, func(st eurekaStatus) bool { return st.Eureka != nil && !st.Eureka.Reachable })
	t.Logf("outage seen in status after %v", took.Round(time.Millisecond))
	if v := g.Metric(`gatehouse_registry_up{source="eureka"}`); v != 0 {
		t.Errorf(`during the outage gatehouse_registry_up{source="eureka"} = %v, want 0`, v)
	}
	g2 := launch(t, dir, "--eureka-url", urls)
	g2.WaitHealthy(30 * time.Second)
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		got := call(cl)
		if got != "a" && got != "b" {
			t.Fatalf("during the outage a call got %q, want a or b (last known good)", got)
		}
		seen[got] = true
		time.Sleep(20 * time.Millisecond)
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("during the outage only %v answered, want a and b", seen)
	}
	if code := g2.Readyz(); code == 200 {
		t.Fatal("gatehouse started during the outage is ready (it has never read the registry)")
	}
	if st := g2.status(); st.Eureka == nil || st.Eureka.Synced {
		t.Errorf("gatehouse started during the outage: %+v, want eureka not synced", st.Eureka)
	}

	// The second server comes back, with c registered meanwhile.
	s2.Register(eurekatest.Instance("cart", "cart-c", "127.0.0.1", c.Port, ""))
	s2.Restart()
	t.Logf("second gatehouse ready %v after the server came back", g2.WaitReady(30*time.Second).Round(time.Millisecond))
	gatehouseproc.WaitAnswer(t, cl, "c", 20*time.Second)
	g.waitStatus("up again", 10*time.Second, func(st eurekaStatus) bool { return st.Eureka != nil && st.Eureka.Reachable })
	if v := g.Metric(`gatehouse_registry_up{source="eureka"}`); v != 1 {
		t.Errorf(`after the outage gatehouse_registry_up{source="eureka"} = %v, want 1`, v)
	}
}

// TestEurekaBadFlags: bad server settings stop `gatehouse serve` at once
// with a message naming the flag; a password never shows.
func TestEurekaBadFlags(t *testing.T) {
	dir := policyDir(t)
	for args, want := range map[string]string{
		"--eureka-url eureka:8761":                     "--eureka-url: eureka server \"eureka:8761\": the scheme must be http or https",
		"--eureka-url http://u:hunter2@e:8761/eureka":  "no credentials in the URL",
		"--eureka-credentials-file /nonexistent/creds": "eureka credentials: open /nonexistent/creds",
		"--eureka-poll-interval 1ms":                   "--eureka-poll-interval 1ms: at least 100ms",
	} {
		out, err := gatehouseproc.Run(gatehouseBin, append([]string{"serve", "--policy-dir", dir, "--xds-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, strings.Fields(args)...)...)
		if err == nil || !strings.Contains(out, want) || strings.Contains(out, "hunter2") {
			t.Errorf("%s: err %v, output:\n%s\nwant %q", args, err, out, want)
		}
	}
}
