package consulproc

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// registerInZone registers b as an instance of service in zone (service
// meta `zone`) with a passing TTL check "ttl-<name>".
func registerInZone(t *testing.T, c *api.Client, service string, b *backend, zone string) {
	t.Helper()
	reg := &api.AgentServiceRegistration{
		ID: b.Name, Name: service, Address: "127.0.0.1", Port: b.Port,
		Meta:  map[string]string{"zone": zone},
		Check: &api.AgentServiceCheck{CheckID: "ttl-" + b.Name, TTL: "1h", Status: api.HealthPassing},
	}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("registering %s: %v", b.Name, err)
	}
}

// Zone failover driven by the registry: with serve --zone a, a proxyless
// client calls only the Consul instances whose service meta zone is a;
// when their health checks go critical, calls move to zone b; when one
// passes again, they come back.
//
//	go test ./test/consul -run TestZoneFailoverThroughConsul -v
func TestZoneFailoverThroughConsul(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	c := agent.Client()
	a1, a2, b1 := startBackend(t, "a1"), startBackend(t, "a2"), startBackend(t, "b1")
	registerInZone(t, c, "app", a1, "a")
	registerInZone(t, c, "app", a2, "a")
	registerInZone(t, c, "app", b1, "b")

	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{"policy.yaml": consulPolicy(map[string]string{"app": "app"})})
	g := startGatehouse(t, dir, agent.Addr, "--zone", "a")
	client := xdsClient(t, g, "zoned", "app.test")
	gatehouseproc.WaitAnswer(t, client, "a1", 10*time.Second)
	gatehouseproc.WaitAnswer(t, client, "a2", 5*time.Second)
	for i := 0; i < 50; i++ {
		if got := call(client); got != "a1" && got != "a2" {
			t.Fatalf("call %d answered by %q while zone a is healthy, want a1 or a2", i, got)
		}
	}

	start := time.Now()
	for _, id := range []string{"ttl-a1", "ttl-a2"} {
		if err := c.Agent().UpdateTTL(id, "failing", api.HealthCritical); err != nil {
			t.Fatal(err)
		}
	}
	gatehouseproc.WaitAnswer(t, client, "b1", 5*time.Second)
	t.Logf("zone a critical in Consul: calls reach zone b %v later", time.Since(start).Round(time.Millisecond))
	for i := 0; i < 20; i++ {
		if got := call(client); got != "b1" {
			t.Fatalf("call %d with zone a critical answered %q, want b1", i, got)
		}
	}

	start = time.Now()
	if err := c.Agent().UpdateTTL("ttl-a1", "ok", api.HealthPassing); err != nil {
		t.Fatal(err)
	}
	gatehouseproc.WaitAnswer(t, client, "a1", 5*time.Second)
	t.Logf("a1 passing again: calls reach it %v later", time.Since(start).Round(time.Millisecond))
	for i := 0; i < 20; i++ {
		if got := call(client); got != "a1" {
			t.Fatalf("call %d with a1 back answered %q, want a1 (zone a is priority 0 again)", i, got)
		}
	}
}
