package consulproc

import (
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// rawCDS opens a raw ADS stream as an Envoy of the public Gateway, asks for
// every cluster, and delivers the responses.
func rawCDS(t *testing.T, g *gatehouse) <-chan *discoveryv3.DiscoveryResponse {
	t.Helper()
	st := gatehouseproc.OpenADS(t, g.XDSAddr)
	node := &corev3.Node{Id: "readiness", Cluster: "public", UserAgentName: "envoy"}
	if err := st.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	return gatehouseproc.Responses(st, 16)
}

// A gatehouse that starts while Consul is down stays unready and publishes
// nothing (a raw ADS client gets no answer) until every referenced Consul
// service has had one successful read; then the first snapshot already
// carries the Consul endpoints. A Consul service that does not exist yet is
// read as "no instances yet", not an error.
func TestReadinessWaitsForConsul(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	agent.Kill() // its ports are known: gatehouse is pointed at a dead agent
	a := startBackend(t, "a")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{"policy.yaml": consulPolicy(map[string]string{"app": "app", "ghost": "not-registered-yet"})})
	g := launch(t, dir, agent.Addr)
	g.WaitHealthy(10 * time.Second)
	cds := rawCDS(t, g)
	// First the state to check from: gatehouse has tried Consul and failed
	// (on a loaded machine it may not have tried yet when /healthz answers,
	// and silence before the first attempt would prove nothing).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st := g.status(); st.Consul != nil && st.Consul.LastError != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed Consul read in the status within 10s: %s", g.statusJSON())
		}
	}

	// Then nothing may be published while Consul stays down.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if code := g.Readyz(); code != 503 {
			t.Fatalf("/readyz = %d while Consul is down, want 503", code)
		}
		select {
		case r := <-cds:
			t.Fatalf("a snapshot was published before Consul was read: %s version %s", r.TypeUrl, r.VersionInfo)
		case <-time.After(100 * time.Millisecond):
		}
	}
	st := g.status()
	if st.Ready || st.WaitingFor == "" || st.Consul == nil || st.Consul.Synced {
		t.Fatalf("status while Consul is down: %s", g.statusJSON())
	}
	if out := g.cli("status", "--server", g.AdminAddr); !strings.Contains(out, "not ready: waiting for") || !strings.Contains(out, "UNREACHABLE") {
		t.Fatalf("gatehouse status while Consul is down:\n%s", out)
	}

	agent.Restart()
	register(t, agent.Client(), "app", a, false)
	ready := g.WaitReady(15 * time.Second)
	select {
	case r := <-cds:
		if r.TypeUrl != resourcev3.ClusterType || len(r.Resources) == 0 {
			t.Fatalf("first response after the sync: %s with %d resources", r.TypeUrl, len(r.Resources))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no CDS response within 5s of becoming ready")
	}
	t.Logf("ready %v after Consul came back (registration included)", ready.Round(time.Millisecond))
	client := xdsClient(t, g, "after-ready", "app.test")
	gatehouseproc.WaitAnswer(t, client, "a", 10*time.Second)

	st = g.status()
	found := false
	for _, s := range st.Consul.Services {
		if s.Name == "ghost" {
			found = true
			if s.State != "no instances yet" || s.Instances != 0 {
				t.Fatalf("ghost service status %+v, want \"no instances yet\"", s)
			}
		}
	}
	if !found || !st.Ready || st.Consul.LastError != "" {
		t.Fatalf("status after the sync: %s", g.statusJSON())
	}
}
