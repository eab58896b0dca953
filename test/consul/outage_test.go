package consulproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

const upMetric = `gatehouse_registry_up{source="consul"}`

// With the Consul agent killed no endpoint is removed, calls keep
// succeeding for 10 s, the metric and `gatehouse status` say Consul is
// unreachable; once the agent is back (empty: dev agents keep nothing) the
// re-registered instances get traffic again.
func TestOutageLastKnownGood(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	register(t, agent.Client(), "app", a, false)
	register(t, agent.Client(), "app", b, false)
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{"policy.yaml": consulPolicy(map[string]string{"app": "app"})})
	g := startGatehouse(t, dir, agent.Addr)
	client := xdsClient(t, g, "outage", "app.test")
	gatehouseproc.WaitAnswer(t, client, "a", 10*time.Second)
	gatehouseproc.WaitAnswer(t, client, "b", 5*time.Second)
	if v := g.Metric(upMetric); v != 1 {
		t.Fatalf("%s = %v before the outage, want 1", upMetric, v)
	}

	agent.Kill()
	killed := time.Now()
	for g.Metric(upMetric) != 0 {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("%s not 0 within 5s of the kill", upMetric)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := g.cli("status", "--server", g.AdminAddr)
	if !strings.Contains(out, "UNREACHABLE") || !strings.Contains(out, "unreachable") {
		t.Fatalf("gatehouse status during the outage does not say Consul is unreachable:\n%s", out)
	}
	// Calls keep succeeding, to both instances, for at least 10 s.
	seen := map[string]int{}
	calls := 0
	for time.Since(killed) < 10*time.Second+200*time.Millisecond {
		got := call(client)
		if got != "a" && got != "b" {
			t.Fatalf("call %d, %v into the outage: %q", calls, time.Since(killed).Round(time.Millisecond), got)
		}
		seen[got]++
		calls++
		time.Sleep(20 * time.Millisecond)
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Fatalf("an endpoint was removed during the outage: %v", seen)
	}
	if st := g.status(); st.Consul == nil || st.Consul.Reachable || len(st.Consul.Services) != 1 || st.Consul.Services[0].Instances != 2 {
		t.Fatalf("status during the outage: %s", g.statusJSON())
	}
	t.Logf("outage: %d calls over %v all succeeded (%v); %s 0", calls, time.Since(killed).Round(time.Millisecond), seen, upMetric)

	// Back on the same ports, empty: re-register b and a new c.
	agent.Restart()
	back := time.Now()
	register(t, agent.Client(), "app", b, false)
	register(t, agent.Client(), "app", c, false)
	gatehouseproc.WaitAnswer(t, client, "c", 15*time.Second)
	waitGone(t, client, "a", back, 15*time.Second)
	t.Logf("after the restart: the new instance answered and the old one left within %v", time.Since(back).Round(time.Millisecond))
	for deadline := time.Now().Add(10 * time.Second); g.Metric(upMetric) != 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s not back to 1 within 10s of the restart", upMetric)
		}
	}
}

// A wrong ACL token is a clear error in the log and the status, never a
// crash; nothing is published (so nothing empty reaches a proxy).
func TestWrongToken(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t, consultest.WithACL("6a1b2c3d-0000-4000-8000-00000000abcd"))
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{"policy.yaml": consulPolicy(map[string]string{"app": "app"})})
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("6a1b2c3d-0000-4000-8000-000000000bad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := launch(t, dir, agent.Addr, "--consul-token-file", tokenFile)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.Log(), "ACL token") {
		if time.Now().After(deadline) {
			t.Fatalf("no ACL error in the log within 10s:\n%s", tail(g.Log(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := g.status()
	if st.Consul == nil || !strings.Contains(st.Consul.LastError, "permission denied (check the ACL token)") || st.Ready {
		t.Fatalf("status with a wrong token: %s", g.statusJSON())
	}
	if code := g.Readyz(); code != 503 {
		t.Fatalf("/readyz = %d with a wrong token, want 503", code)
	}
	out := g.cli("status", "--server", g.AdminAddr)
	if !strings.Contains(out, "ACL token") {
		t.Fatalf("gatehouse status does not show the token error:\n%s", out)
	}
}
