package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// zonedService is a static GRPC Service whose endpoints carry zones.
func zonedService(name string, eps map[*backend]string) string {
	var lines []string
	for b, zone := range eps {
		lines = append(lines, fmt.Sprintf("      - {address: 127.0.0.1, port: %d, zone: %s}", b.Port, zone))
	}
	return fmt.Sprintf("kind: Service\nname: %s\nspec:\n  protocol: GRPC\n  discovery:\n    static:\n%s\n", name, strings.Join(lines, "\n"))
}

const zonedRoute = "kind: Route\nname: r\nspec:\n  gateways: [public]\n  hosts: [zoned.test]\n  backends: [{service: app}]\n"

// A proxyless grpc-go client of a Gateway in zone a (serve --zone a) sends
// every call to the zone-a backends while they are up; when they stop, its
// calls go to zone b within a bound; when a zone-a backend is registered
// again, calls return to zone a. Nothing is NACKed on the way.
func TestZoneFailoverProxyless(t *testing.T) {
	t.Parallel()
	a1, a2, b1 := startBackend(t, "a1"), startBackend(t, "a2"), startBackend(t, "b1")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": zonedService("app", map[*backend]string{a1: "a", a2: "a", b1: "b"}),
		"route.yaml":    zonedRoute,
	})
	g := startGatehouse(t, dir, "--zone", "a")
	c := xdsClient(t, g, "public", "zoned-client", "zoned.test")
	waitFor(t, 10*time.Second, c, "a1")
	waitFor(t, 10*time.Second, c, "a2")
	for i := 0; i < 50; i++ {
		if got := call(c); got != "a1" && got != "a2" {
			t.Fatalf("call %d answered by %q while zone a is up, want a1 or a2 (priority 0)", i, got)
		}
	}

	// Zone a goes down; the registry still lists it (static endpoints), so
	// only the client's own failover can move the calls.
	a1.Stop()
	a2.Stop()
	took := waitFor(t, 10*time.Second, c, "b1")
	t.Logf("zone a stopped: calls reach zone b after %v", took.Round(time.Millisecond))
	for i := 0; i < 20; i++ {
		if got := call(c); got != "b1" {
			t.Fatalf("call %d after the failover answered %q, want b1", i, got)
		}
	}

	// A new zone-a instance is registered (an endpoint-only change): the
	// calls come back to zone a.
	a3 := startBackend(t, "a3")
	writePolicy(t, dir, map[string]string{
		"services.yaml": zonedService("app", map[*backend]string{a1: "a", a2: "a", a3: "a", b1: "b"}),
	})
	back := waitFor(t, 10*time.Second, c, "a3")
	t.Logf("zone a back: calls reach it %v after the registry change was written", back.Round(time.Millisecond))
	for i := 0; i < 20; i++ {
		if got := call(c); got != "a3" {
			t.Fatalf("call %d with a3 up answered %q, want a3 (zone a is priority 0 again)", i, got)
		}
	}
	assertNoNACKs(t, g)
}
