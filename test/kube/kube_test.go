package kubeproc

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// pods starts one backend per name on this machine's non-loopback address
// (the API server refuses loopback endpoint addresses), each on its own
// port, and returns each name's port. A slice carries one port for all its
// endpoints, so each pod gets a slice of its own here; the EndpointSlice
// controller does the same when a named target port differs between pods.
func pods(t *testing.T, names ...string) (string, map[string]int) {
	t.Helper()
	ip := hostIP(t)
	ports := map[string]int{}
	for _, n := range names {
		ports[n] = gatehouseproc.StartBackendAt(t, n, net.JoinHostPort(ip, "0")).Port
	}
	return ip, ports
}

// hostIP is a global unicast IPv4 address of this machine.
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	t.Fatalf("no non-loopback IPv4 address on this machine: the API server refuses loopback endpoint addresses")
	return ""
}

// TestScaleUpDown: a Deployment-like scale up and down (the EndpointSlice
// created, updated, then deleted through client-go) reaches a proxyless gRPC
// client through gatehouse, which reads with the RBAC rights of
// deploy/kubernetes/rbac.yaml only.
func TestScaleUpDown(t *testing.T) {
	c := startCluster(t)
	ip, port := pods(t, "cart-a", "cart-b", "cart-c")
	c.put(t, "shop", slice("cart-a", "cart", "grpc", port["cart-a"], ep{ip: ip}))
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", "cart"))
	g := launch(t, dir, c.kubeconfig)
	t.Logf("gatehouse ready in %v", g.WaitReady(60*time.Second).Round(time.Millisecond))
	cl := xdsClient(t, g, "node-1", "cart.test")
	gatehouseproc.WaitAnswer(t, cl, "cart-a", 20*time.Second)

	// Scale up: b created not ready (starting), then updated to ready; c
	// created ready.
	c.put(t, "shop", slice("cart-b", "cart", "grpc", port["cart-b"], ep{ip: ip, ready: no()}))
	c.put(t, "shop", slice("cart-c", "cart", "grpc", port["cart-c"], ep{ip: ip}))
	gatehouseproc.WaitAnswer(t, cl, "cart-c", 20*time.Second)
	c.put(t, "shop", slice("cart-b", "cart", "grpc", port["cart-b"], ep{ip: ip, ready: yes()}))
	t.Logf("endpoint ready -> first call to it: %v", gatehouseproc.WaitAnswer(t, cl, "cart-b", 20*time.Second).Round(time.Millisecond))
	g.waitStatus("3 endpoints", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 3 && s.Slices == 3 && s.State == "ok"
	})

	// Scale down to c.
	c.del(t, "shop", "cart-a")
	c.del(t, "shop", "cart-b")
	took := gatehouseproc.WaitOnly(t, cl, 20*time.Second, "cart-c")
	t.Logf("scale 3 -> 1 reached the client in %v (including 40 quiet calls)", took.Round(time.Millisecond))

	c.del(t, "shop", "cart-c")
	g.waitStatus("no slices", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 0 && s.Slices == 0 && strings.HasPrefix(s.State, "no EndpointSlices")
	})
	if v := g.Metric(`gatehouse_registry_up{source="kubernetes"}`); v != 1 {
		t.Errorf(`gatehouse_registry_up{source="kubernetes"} = %v, want 1`, v)
	}
	out, err := gatehouseproc.Run(gatehouseBin, "status", "--server", g.AdminAddr)
	if err != nil || !strings.Contains(out, "Kubernetes https://127.0.0.1:") || !strings.Contains(out, "shop/cart") {
		t.Errorf("gatehouse status (err %v) lacks the Kubernetes section:\n%s", err, out)
	}
	t.Logf("gatehouse status:\n%s", out)
}

// TestNotReadyAndTerminating: a not-ready endpoint gets no traffic until it
// is ready; a terminating endpoint that still serves is drained (DRAINING:
// no new calls), and one that stopped serving leaves.
func TestNotReadyAndTerminating(t *testing.T) {
	c := startCluster(t)
	ip, port := pods(t, "a", "b")
	c.put(t, "shop", slice("cart-a", "cart", "grpc", port["a"], ep{ip: ip}))
	c.put(t, "shop", slice("cart-b", "cart", "grpc", port["b"], ep{ip: ip, ready: no()}))
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", "cart"))
	g := launch(t, dir, c.kubeconfig)
	g.WaitReady(60 * time.Second)
	cl := xdsClient(t, g, "node-1", "cart.test")
	gatehouseproc.WaitOnly(t, cl, 20*time.Second, "a")
	g.waitStatus("1 not ready", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 1 && s.NotReady == 1
	})

	c.put(t, "shop", slice("cart-b", "cart", "grpc", port["b"], ep{ip: ip, ready: yes()}))
	gatehouseproc.WaitAnswer(t, cl, "b", 20*time.Second)

	// a terminates but still serves: drained, not cut.
	c.put(t, "shop", slice("cart-a", "cart", "grpc", port["a"], ep{ip: ip, ready: no(), serving: yes(), terminate: yes()}))
	gatehouseproc.WaitOnly(t, cl, 20*time.Second, "b")
	g.waitStatus("a draining", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 2 && s.Draining == 1
	})

	// a stopped serving: gone.
	c.put(t, "shop", slice("cart-a", "cart", "grpc", port["a"], ep{ip: ip, ready: no(), serving: no(), terminate: yes()}))
	g.waitStatus("a gone", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 1 && s.Draining == 0 && s.NotReady == 1
	})
	gatehouseproc.WaitOnly(t, cl, 20*time.Second, "b")
}

// TestSliceSplit: a Service's endpoints split across two slices are merged,
// the zone of each endpoint is its locality, and a port name that the
// slices do not have is a status line, not a crash or a silent empty
// cluster elsewhere.
func TestSliceSplit(t *testing.T) {
	c := startCluster(t)
	ip, port := pods(t, "a", "b")
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port["a"], ep{ip: ip, zone: "z1"}))
	c.put(t, "shop", slice("cart-2", "cart", "grpc", port["b"], ep{ip: ip, zone: "z2"}))
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", "cart"))
	g := launch(t, dir, c.kubeconfig)
	g.WaitReady(60 * time.Second)
	cl := xdsClient(t, g, "node-1", "cart.test")
	gatehouseproc.WaitAnswer(t, cl, "a", 20*time.Second)
	gatehouseproc.WaitAnswer(t, cl, "b", 20*time.Second)
	g.waitStatus("2 slices", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 2 && s.Slices == 2
	})

	// One slice deleted: the other's endpoint stays.
	c.del(t, "shop", "cart-1")
	gatehouseproc.WaitOnly(t, cl, 20*time.Second, "b")

	// A port name the Service does not have.
	writePolicy(t, dir, policy("shop", "http", "cart"))
	g.waitStatus("port not found", 20*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.State == "port http not in the EndpointSlices (ports: grpc)"
	})
}

// TestAPIServerOutage: kube-apiserver killed: the endpoints are kept and
// calls keep working, the source reports down; restarted: the informer
// re-lists and a change made after the restart arrives. A gatehouse started
// while the API server is down is not ready (nothing pushed) until it is
// back.
func TestAPIServerOutage(t *testing.T) {
	c := startCluster(t)
	ip, port := pods(t, "a", "b")
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port["a"], ep{ip: ip}))
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", "cart"))
	g := launch(t, dir, c.kubeconfig)
	g.WaitReady(60 * time.Second)
	cl := xdsClient(t, g, "node-1", "cart.test")
	gatehouseproc.WaitAnswer(t, cl, "a", 20*time.Second)

	c.Kill()
	killed := time.Now()
	took := g.waitStatus("down", 30*time.Second, func(st kubeStatus) bool { return st.Kube != nil && !st.Kube.Reachable })
	t.Logf("outage seen in status after %v", took.Round(time.Millisecond))
	if v := g.Metric(`gatehouse_registry_up{source="kubernetes"}`); v != 0 {
		t.Errorf(`during the outage gatehouse_registry_up{source="kubernetes"} = %v, want 0`, v)
	}
	// A second gatehouse starting now must hold its configuration back.
	g2 := launch(t, dir, c.kubeconfig)
	g2.WaitHealthy(30 * time.Second)
	for i := 0; i < 3; i++ {
		if got := call(cl); got != "a" {
			t.Fatalf("during the outage a call got %q, want a (last known good)", got)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code := g2.Readyz(); code == 200 {
		t.Fatalf("gatehouse started during the outage is ready (it has never listed the slices)")
	}
	if st := g2.status(); st.Kube == nil || st.Kube.Synced {
		t.Errorf("gatehouse started during the outage: status %+v, want kubernetes not synced", st.Kube)
	}
	t.Logf("outage lasted %v", time.Since(killed).Round(time.Millisecond))

	c.Restart()
	t.Logf("second gatehouse ready %v after the API server came back", g2.WaitReady(60*time.Second).Round(time.Millisecond))
	g.waitStatus("up again", 30*time.Second, func(st kubeStatus) bool { return st.Kube != nil && st.Kube.Reachable })
	start := time.Now()
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port["b"], ep{ip: ip}))
	gatehouseproc.WaitOnly(t, cl, 60*time.Second, "b")
	t.Logf("change after the restart reached the client in %v", time.Since(start).Round(time.Millisecond))
	if v := g.Metric(`gatehouse_registry_up{source="kubernetes"}`); v != 1 {
		t.Errorf(`after the restart gatehouse_registry_up{source="kubernetes"} = %v, want 1`, v)
	}
}
