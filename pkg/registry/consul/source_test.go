package consul

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
)

// recorder keeps the snapshots a Source reports.
type recorder struct {
	mu    sync.Mutex
	last  registry.Snapshot
	count int
	ch    chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1)} }

func (r *recorder) update(s registry.Snapshot) {
	r.mu.Lock()
	r.last, r.count = s, r.count+1
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recorder) get() (registry.Snapshot, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.count
}

// waitFor waits (bounded) until pred holds for the last snapshot.
func (r *recorder) waitFor(t *testing.T, bound time.Duration, what string, pred func(registry.Snapshot) bool) registry.Snapshot {
	t.Helper()
	deadline := time.After(bound)
	for {
		if snap, _ := r.get(); snap != nil && pred(snap) {
			return snap
		}
		select {
		case <-r.ch:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			snap, _ := r.get()
			t.Fatalf("%s: not within %v; last snapshot %v", what, bound, snap)
		}
	}
}

func runSource(t *testing.T, cfg Config) (*Source, *recorder) {
	t.Helper()
	rec := newRecorder()
	cfg.OnUpdate = rec.update
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Source.Run did not return within 10s of cancel")
		}
	})
	return s, rec
}

func register(t *testing.T, c *api.Client, id, name, addr string, port int, tags []string, meta map[string]string, ttl bool) {
	t.Helper()
	reg := &api.AgentServiceRegistration{ID: id, Name: name, Address: addr, Port: port, Tags: tags, Meta: meta}
	if ttl {
		reg.Check = &api.AgentServiceCheck{CheckID: "ttl-" + id, TTL: "1h", Status: api.HealthPassing}
	}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("registering %s: %v", id, err)
	}
}

func addrs(eps []registry.Endpoint) string {
	var out []string
	for _, e := range eps {
		out = append(out, fmt.Sprintf("%s:%d", e.Address, e.Port))
	}
	return strings.Join(out, ",")
}

// Registration, deregistration, health, tags, zones, weights and a service
// that does not exist, against a real agent.
func TestWatchRealConsul(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	c := agent.Client()
	register(t, c, "users-1", "users", "10.0.0.1", 8080, []string{"v1"}, map[string]string{"zone": "a"}, false)
	register(t, c, "users-2", "users", "10.0.0.2", 8080, []string{"v1", "blue"}, nil, true)
	register(t, c, "users-3", "users", "10.0.0.3", 8080, []string{"v2"}, nil, false)
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "users-w", Name: "users", Address: "10.0.0.9", Port: 9,
		Tags: []string{"heavy"}, Weights: &api.AgentWeights{Passing: 7, Warning: 1}}); err != nil {
		t.Fatal(err)
	}

	s, rec := runSource(t, Config{Address: agent.Addr})
	s.SetServices(map[string]policy.ConsulDiscovery{
		"users-v1":    {Service: "users", Tags: []string{"v1"}},
		"users-blue":  {Service: "users", Tags: []string{"blue", "v1"}},
		"users-all":   {Service: "users"},
		"users-heavy": {Service: "users", Tags: []string{"heavy"}},
		"ghost":       {Service: "does-not-exist-yet"},
	})
	snap := rec.waitFor(t, 5*time.Second, "first read", func(s registry.Snapshot) bool { return len(s) == 5 })
	if got := addrs(snap["users-v1"]); got != "10.0.0.2:8080,10.0.0.1:8080" { // zone "" sorts before "a"
		t.Fatalf("users-v1 = %s", got)
	}
	if got := addrs(snap["users-blue"]); got != "10.0.0.2:8080" {
		t.Fatalf("users-blue (both tags must match) = %s", got)
	}
	if n := len(snap["users-all"]); n != 4 {
		t.Fatalf("users-all has %d endpoints, want 4", n)
	}
	if e := snap["users-v1"][1]; e.Zone != "a" || e.Weight != 1 {
		t.Fatalf("zone from service meta, default weight 1: %+v", e)
	}
	if e := snap["users-heavy"]; len(e) != 1 || e[0].Weight != 7 {
		t.Fatalf("weight from Weights.Passing: %+v", e)
	}
	if eps, ok := snap["ghost"]; !ok || len(eps) != 0 {
		t.Fatalf("a service that does not exist is read as empty: %v %v", eps, ok)
	}
	if !s.Synced() {
		t.Fatal("not Synced after every watch was read")
	}
	st := s.Status()
	if !st.Reachable || st.LastError != "" {
		t.Fatalf("status: %+v", st)
	}
	for _, ss := range st.Services {
		if ss.Name == "ghost" && ss.State != "no instances yet" {
			t.Fatalf("ghost status %+v, want state \"no instances yet\"", ss)
		}
	}

	// A failing TTL check removes the instance; passing again brings it back.
	if err := c.Agent().UpdateTTL("ttl-users-2", "down", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 5*time.Second, "critical instance removed", func(s registry.Snapshot) bool { return addrs(s["users-v1"]) == "10.0.0.1:8080" })
	if err := c.Agent().UpdateTTL("ttl-users-2", "up", api.HealthPassing); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 5*time.Second, "passing instance back", func(s registry.Snapshot) bool { return len(s["users-v1"]) == 2 })
	// Warning is not passing either.
	if err := c.Agent().UpdateTTL("ttl-users-2", "meh", api.HealthWarning); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 5*time.Second, "warning instance removed", func(s registry.Snapshot) bool { return len(s["users-blue"]) == 0 })

	// Deregistration and registration.
	if err := c.Agent().ServiceDeregister("users-1"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 5*time.Second, "deregistered instance removed", func(s registry.Snapshot) bool { return len(s["users-v1"]) == 0 })
	register(t, c, "users-4", "users", "10.0.0.4", 8080, []string{"v1"}, nil, false)
	register(t, c, "ghost-1", "does-not-exist-yet", "10.0.0.5", 80, nil, nil, false)
	rec.waitFor(t, 5*time.Second, "new instances", func(s registry.Snapshot) bool {
		return addrs(s["users-v1"]) == "10.0.0.4:8080" && addrs(s["ghost"]) == "10.0.0.5:80"
	})

	// A Service that leaves the policy leaves the snapshot.
	s.SetServices(map[string]policy.ConsulDiscovery{"users-v1": {Service: "users", Tags: []string{"v1"}}})
	rec.waitFor(t, 5*time.Second, "removed watches", func(s registry.Snapshot) bool { return len(s) == 1 && len(s["users-v1"]) == 1 })
}

// The datacenter filter: the agent's own datacenter by name works; one that
// does not exist is a clear error on that Service only, never a crash.
func TestDatacenter(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	register(t, agent.Client(), "web-1", "web", "10.0.3.1", 80, nil, nil, false)
	s, rec := runSource(t, Config{Address: agent.Addr, BackoffBase: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	s.SetServices(map[string]policy.ConsulDiscovery{
		"web-dc1":  {Service: "web", Datacenter: "dc1"},
		"web-nope": {Service: "web", Datacenter: "nope"},
	})
	rec.waitFor(t, 5*time.Second, "dc1 read", func(s registry.Snapshot) bool { return len(s["web-dc1"]) == 1 })
	var st Status
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st = s.Status(); len(st.Services) == 2 && st.Services[1].State == "error" {
			break
		}
	}
	bad := st.Services[1]
	if bad.Name != "web-nope" || bad.State != "error" || !strings.Contains(bad.LastError, "datacenter") || bad.Synced {
		t.Fatalf("unknown datacenter: %+v", bad)
	}
	if snap, _ := rec.get(); len(snap) != 1 {
		t.Fatalf("the unknown datacenter reported endpoints: %v", snap)
	}
	if s.Synced() {
		t.Fatal("Synced although one watch never read successfully")
	}
}

// With the agent gone nothing is removed, Up turns false and the status says
// why; once the agent is back (empty, as dev agents are) updates flow again.
func TestOutageLastKnownGood(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	register(t, agent.Client(), "api-1", "api", "10.0.1.1", 80, nil, nil, false)
	s, rec := runSource(t, Config{Address: agent.Addr, BackoffBase: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond})
	s.SetServices(map[string]policy.ConsulDiscovery{"api": {Service: "api"}})
	rec.waitFor(t, 5*time.Second, "first read", func(s registry.Snapshot) bool { return len(s["api"]) == 1 })
	_, before := rec.get()

	agent.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for s.Up() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s.Up() {
		t.Fatal("Up still true 5s after the agent was killed")
	}
	st := s.Status()
	if !strings.Contains(st.LastError, "unreachable") || st.Reachable {
		t.Fatalf("status during the outage: %+v", st)
	}
	time.Sleep(time.Second) // retries happen meanwhile
	if snap, n := rec.get(); n != before || len(snap["api"]) != 1 {
		t.Fatalf("the outage changed what was reported: %d updates (was %d), %v", n, before, snap)
	}

	agent.Restart()
	register(t, agent.Client(), "api-2", "api", "10.0.1.2", 80, nil, nil, false)
	rec.waitFor(t, 10*time.Second, "updates after the agent is back", func(s registry.Snapshot) bool { return addrs(s["api"]) == "10.0.1.2:80" })
	for deadline := time.Now().Add(5 * time.Second); !s.Up() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // the detectors may still be in their backoff
	}
	if !s.Up() {
		t.Fatalf("Up false 5s after recovery: %+v", s.Status())
	}
}

// A wrong ACL token is a clear error in the status, never a crash, and
// nothing is reported; the right token works.
func TestACLToken(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t, consultest.WithACL("0b8c7f0e-1111-4a4a-9a9a-000000000001"))
	register(t, agent.Client(), "db-1", "db", "10.0.2.1", 5432, nil, nil, false)
	watch := map[string]policy.ConsulDiscovery{"db": {Service: "db"}}

	bad, badRec := runSource(t, Config{Address: agent.Addr, Token: "0b8c7f0e-2222-4a4a-9a9a-000000000002"})
	bad.SetServices(watch)
	good, goodRec := runSource(t, Config{Address: agent.Addr, Token: "0b8c7f0e-1111-4a4a-9a9a-000000000001"})
	good.SetServices(watch)

	goodRec.waitFor(t, 5*time.Second, "read with the right token", func(s registry.Snapshot) bool { return len(s["db"]) == 1 })
	deadline := time.Now().Add(5 * time.Second)
	var st Status
	for time.Now().Before(deadline) {
		if st = bad.Status(); strings.Contains(st.LastError, "ACL token") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(st.LastError, "permission denied (check the ACL token)") || st.Reachable || st.Synced {
		t.Fatalf("status with a wrong token: %+v", st)
	}
	if snap, n := badRec.get(); n != 0 {
		t.Fatalf("a wrong token reported endpoints: %v", snap)
	}
	if bad.Synced() {
		t.Fatal("Synced with a wrong token")
	}
}

// Hundreds of watched services stay within a low per-client connection
// limit: one blocking query per service would be refused by this agent.
func TestManyServicesWithinConnectionLimit(t *testing.T) {
	t.Parallel()
	const services, limit = 300, 40
	agent := consultest.Start(t, consultest.WithHTTPConnLimit(limit))
	c := agent.Client()
	regs := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, services)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range regs {
				_, err := c.Catalog().Register(&api.CatalogRegistration{Node: "n1", Address: "10.9.0.1",
					Service: &api.AgentService{ID: fmt.Sprintf("s%d", i), Service: fmt.Sprintf("svc-%03d", i), Port: 1000 + i}}, nil)
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < services; i++ {
		regs <- i
	}
	close(regs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("registering: %v", err)
	}

	s, rec := runSource(t, Config{Address: agent.Addr, Workers: 8, MaxConns: 16})
	watch := map[string]policy.ConsulDiscovery{}
	for i := 0; i < services; i++ {
		watch[fmt.Sprintf("p%d", i)] = policy.ConsulDiscovery{Service: fmt.Sprintf("svc-%03d", i)}
	}
	s.SetServices(watch)
	rec.waitFor(t, 20*time.Second, "every service read", func(s registry.Snapshot) bool {
		if len(s) != services {
			return false
		}
		for _, eps := range s {
			if len(eps) != 1 {
				return false
			}
		}
		return true
	})
	if _, err := c.Catalog().Deregister(&api.CatalogDeregistration{Node: "n1", ServiceID: "s7"}, nil); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 5*time.Second, "deregistration seen", func(s registry.Snapshot) bool { return len(s["p7"]) == 0 })
	if st := s.Status(); !st.Reachable || st.LastError != "" {
		t.Fatalf("errors with %d services under a limit of %d connections: %+v", services, limit, st.LastError)
	}
}
