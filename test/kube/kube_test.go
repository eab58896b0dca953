package kubeproc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// pods starts one backend per name on 127.0.0.2, 127.0.0.3, ... sharing one
// port (pods behind a Service share the target port), and returns the port
// and each name's address.
func pods(t *testing.T, names ...string) (int, map[string]string) {
	t.Helper()
	port := testenv.FreePort(t)
	ips := map[string]string{}
	for i, n := range names {
		ip := fmt.Sprintf("127.0.0.%d", i+2)
		gatehouseproc.StartBackendAt(t, n, fmt.Sprintf("%s:%d", ip, port))
		ips[n] = ip
	}
	return port, ips
}

// TestScaleUpDown: a Deployment-like scale up and down (the EndpointSlice
// created, updated, then deleted through client-go) reaches a proxyless gRPC
// client through gatehouse, which reads with the RBAC rights of
// examples/kubernetes/rbac.yaml only.
func TestScaleUpDown(t *testing.T) {
	c := startCluster(t)
	port, ip := pods(t, "cart-a", "cart-b", "cart-c")
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port, ep{ip: ip["cart-a"]}))
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", "cart"))
	g := launch(t, dir, c.kubeconfig)
	t.Logf("gatehouse ready in %v", g.WaitReady(60*time.Second).Round(time.Millisecond))
	cl := xdsClient(t, g, "node-1", "cart.test")
	waitAnswer(t, cl, "cart-a", 20*time.Second)

	start := time.Now()
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port, ep{ip: ip["cart-a"]}, ep{ip: ip["cart-b"]}, ep{ip: ip["cart-c"]}))
	waitAnswer(t, cl, "cart-b", 20*time.Second)
	waitAnswer(t, cl, "cart-c", 20*time.Second)
	t.Logf("scale 1 -> 3 reached the client in %v", time.Since(start).Round(time.Millisecond))
	g.waitStatus("3 endpoints", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 3 && s.State == "ok"
	})

	c.put(t, "shop", slice("cart-1", "cart", "grpc", port, ep{ip: ip["cart-c"]}))
	took := waitOnly(t, cl, 20*time.Second, "cart-c")
	t.Logf("scale 3 -> 1 reached the client in %v (including 40 quiet calls)", took.Round(time.Millisecond))

	c.del(t, "shop", "cart-1")
	g.waitStatus("no slices", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 0 && s.Slices == 0 && strings.HasPrefix(s.State, "no EndpointSlices")
	})
	if v := g.metric(`gatehouse_registry_up{source="kubernetes"}`); v != 1 {
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
	port, ip := pods(t, "a", "b")
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port, ep{ip: ip["a"]}, ep{ip: ip["b"], ready: no()}))
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", "cart"))
	g := launch(t, dir, c.kubeconfig)
	g.WaitReady(60 * time.Second)
	cl := xdsClient(t, g, "node-1", "cart.test")
	waitOnly(t, cl, 20*time.Second, "a")
	g.waitStatus("1 not ready", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 1 && s.NotReady == 1
	})

	c.put(t, "shop", slice("cart-1", "cart", "grpc", port, ep{ip: ip["a"]}, ep{ip: ip["b"], ready: yes()}))
	waitAnswer(t, cl, "b", 20*time.Second)

	// a terminates but still serves: drained, not cut.
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port,
		ep{ip: ip["a"], ready: no(), serving: yes(), terminate: yes()}, ep{ip: ip["b"]}))
	waitOnly(t, cl, 20*time.Second, "b")
	g.waitStatus("a draining", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 2 && s.Draining == 1
	})

	// a stopped serving: gone.
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port,
		ep{ip: ip["a"], ready: no(), serving: no(), terminate: yes()}, ep{ip: ip["b"]}))
	g.waitStatus("a gone", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 1 && s.Draining == 0 && s.NotReady == 1
	})
	waitOnly(t, cl, 20*time.Second, "b")
}

// TestSliceSplit: a Service's endpoints split across two slices are merged,
// the zone of each endpoint is its locality, and a port name that the
// slices do not have is a status line, not a crash or a silent empty
// cluster elsewhere.
func TestSliceSplit(t *testing.T) {
	c := startCluster(t)
	port, ip := pods(t, "a", "b")
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port, ep{ip: ip["a"], zone: "z1"}))
	c.put(t, "shop", slice("cart-2", "cart", "grpc", port, ep{ip: ip["b"], zone: "z2"}))
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", "cart"))
	g := launch(t, dir, c.kubeconfig)
	g.WaitReady(60 * time.Second)
	cl := xdsClient(t, g, "node-1", "cart.test")
	waitAnswer(t, cl, "a", 20*time.Second)
	waitAnswer(t, cl, "b", 20*time.Second)
	g.waitStatus("2 slices", 10*time.Second, func(st kubeStatus) bool {
		s, ok := st.only()
		return ok && s.Endpoints == 2 && s.Slices == 2
	})

	// One slice deleted: the other's endpoint stays.
	c.del(t, "shop", "cart-1")
	waitOnly(t, cl, 20*time.Second, "b")

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
	port, ip := pods(t, "a", "b")
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port, ep{ip: ip["a"]}))
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", "cart"))
	g := launch(t, dir, c.kubeconfig)
	g.WaitReady(60 * time.Second)
	cl := xdsClient(t, g, "node-1", "cart.test")
	waitAnswer(t, cl, "a", 20*time.Second)

	c.Kill()
	killed := time.Now()
	took := g.waitStatus("down", 30*time.Second, func(st kubeStatus) bool { return st.Kube != nil && !st.Kube.Reachable })
	t.Logf("outage seen in status after %v", took.Round(time.Millisecond))
	if v := g.metric(`gatehouse_registry_up{source="kubernetes"}`); v != 0 {
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
	c.put(t, "shop", slice("cart-1", "cart", "grpc", port, ep{ip: ip["b"]}))
	waitOnly(t, cl, 60*time.Second, "b")
	t.Logf("change after the restart reached the client in %v", time.Since(start).Round(time.Millisecond))
	if v := g.metric(`gatehouse_registry_up{source="kubernetes"}`); v != 1 {
		t.Errorf(`after the restart gatehouse_registry_up{source="kubernetes"} = %v, want 1`, v)
	}
}
