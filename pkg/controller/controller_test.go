package controller

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

const basePolicy = `kind: Gateway
name: public
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Service
name: app
spec:
  discovery:
    static: [{address: 127.0.0.1, port: 9001}]
---
kind: Service
name: users
spec:
  discovery:
    consul: {service: users}
---
kind: Route
name: app
spec:
  gateways: [public]
  backends: [{service: app}]
---
kind: Route
name: users
spec:
  gateways: [public]
  match: {path: {prefix: /users}}
  backends: [{service: users}]
`

// memFS is a policy directory whose content tests can swap.
type memFS struct {
	mu sync.Mutex
	fs fstest.MapFS
}

func (m *memFS) set(files map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fs = fstest.MapFS{}
	for k, v := range files {
		m.fs[k] = &fstest.MapFile{Data: []byte(v)}
	}
}

func (m *memFS) load(prev *policy.Snapshot) *policy.Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return policy.Load(m.fs, prev)
}

type fixture struct {
	ctrl *Controller
	pub  *server.Publisher
	reg  *prometheus.Registry
	dir  *memFS
}

func start(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	return startWith(t, files, 5*time.Millisecond, 50*time.Millisecond)
}

func startWith(t *testing.T, files map[string]string, debounce, maxDelay time.Duration) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	pub, err := server.NewPublisher(server.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{pub: pub, reg: reg, dir: &memFS{}}
	f.dir.set(files)
	f.ctrl = New(Config{Load: f.dir.load, Publisher: pub, Debounce: debounce, MaxDelay: maxDelay, Metrics: NewMetrics(reg)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.ctrl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	f.waitFor(t, "first build", func() bool { return f.ctrl.Ready() })
	return f
}

func (f *fixture) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 5s; status %+v", what, f.ctrl.Status())
}

func (f *fixture) versions(t *testing.T) map[string]string {
	t.Helper()
	v, ok := f.pub.Versions(translate.GroupKey{Gateway: "public", Client: translate.ClientEnvoy})
	if !ok {
		t.Fatal("group public/envoy not published")
	}
	return v
}

// Registry updates change only the endpoints version; listeners, routes
// and clusters keep theirs.
func TestRegistryChangeTouchesOnlyEndpoints(t *testing.T) {
	f := start(t, map[string]string{"all.yaml": basePolicy})
	before := f.versions(t)
	f.ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.1", Port: 80, Weight: 1}}})
	f.waitFor(t, "endpoints update", func() bool { return f.versions(t)["endpoints"] != before["endpoints"] })
	after := f.versions(t)
	for _, typ := range []string{"listeners", "routes", "clusters"} {
		if after[typ] != before[typ] {
			t.Errorf("%s version changed on a registry-only update: %s -> %s", typ, before[typ], after[typ])
		}
	}
	// The same endpoints again change nothing at all: wait for the build
	// they trigger, then compare.
	n := buildCount(t, f.reg)
	f.ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.1", Port: 80, Weight: 1}}})
	f.waitFor(t, "the build of identical endpoints", func() bool { return buildCount(t, f.reg) > n })
	if again := f.versions(t); again["endpoints"] != after["endpoints"] {
		t.Errorf("identical endpoints changed the version: %s -> %s", after["endpoints"], again["endpoints"])
	}
}

// A registry update builds from the static endpoints read from the same
// policy snapshot before, not read again (the static source re-read every
// static Service: 1.2 ms at 1,000 of them, more than the rest of an
// endpoint-only build).
func TestRegistryChangeKeepsStaticEndpoints(t *testing.T) {
	f := start(t, map[string]string{"all.yaml": basePolicy})
	n := buildCount(t, f.reg) // after the first build: its writes happened before
	before := f.ctrl.builder.endpoints["app"]
	f.ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.2", Port: 80, Weight: 1}}})
	f.waitFor(t, "the registry build", func() bool { return buildCount(t, f.reg) > n })
	after := f.ctrl.builder.endpoints["app"]
	if len(before) != 1 || len(after) != 1 || &before[0] != &after[0] {
		t.Fatalf("the static endpoints of app were read again for a registry update (%v, %v)", before, after)
	}
}

// A burst of changes is one build: the loop debounces.
func TestDebounce(t *testing.T) {
	// A quiet time far longer than the burst takes even on a loaded
	// machine, so the count does not depend on scheduling.
	f := startWith(t, map[string]string{"all.yaml": basePolicy}, 300*time.Millisecond, 3*time.Second)
	first := buildCount(t, f.reg)
	for i := 0; i < 50; i++ {
		f.ctrl.PolicyChanged()
	}
	f.waitFor(t, "a build after the burst", func() bool { return buildCount(t, f.reg) > first })
	time.Sleep(400 * time.Millisecond) // longer than the quiet time: a second build would show
	if n := buildCount(t, f.reg) - first; n != 1 {
		t.Fatalf("50 changes in a burst made %v builds, want 1", n)
	}
}

// Under a constant stream of changes, builds still happen: MaxDelay bounds
// the wait.
func TestDebounceMaxDelay(t *testing.T) {
	f := startWith(t, map[string]string{"all.yaml": basePolicy}, 100*time.Millisecond, 300*time.Millisecond)
	first := buildCount(t, f.reg)
	stop := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(stop) {
		f.ctrl.PolicyChanged() // never quiet for 100ms
		time.Sleep(10 * time.Millisecond)
	}
	if n := buildCount(t, f.reg) - first; n < 2 {
		t.Fatalf("1.5s of constant changes made %v builds; MaxDelay 300ms should give several", n)
	}
}

// A bad edit is reported and the last good version keeps being served.
func TestBadEditKeepsLastGood(t *testing.T) {
	f := start(t, map[string]string{"all.yaml": basePolicy})
	before := f.versions(t)
	f.dir.set(map[string]string{"all.yaml": basePolicy, "bad.yaml": "kind: Route\nname: bad\nspec:\n  gateways: [public]\n  backends: [{service: nope}]\n"})
	f.ctrl.PolicyChanged()
	f.waitFor(t, "rejection reported", func() bool { return len(f.ctrl.Status().Rejected) == 1 })
	st := f.ctrl.Status()
	if r := st.Rejected[0]; r.Ref != "Route/bad" || r.CarriedOver {
		t.Fatalf("rejected = %+v", r)
	}
	if !st.Ready || st.LastError != "" {
		t.Fatalf("status after a rejected object: %+v", st)
	}
	if after := f.versions(t); after["routes"] != before["routes"] || after["clusters"] != before["clusters"] {
		t.Fatalf("a rejected Route changed what is served: %v -> %v", before, after)
	}
	if got := testutil.ToFloat64(f.ctrl.cfg.Metrics.rejected); got != 1 {
		t.Fatalf("gatehouse_policy_objects_rejected = %v", got)
	}
}

func buildCount(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_snapshot_build_seconds" {
			continue
		}
		var n uint64
		for _, m := range mf.GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
		return n
	}
	return 0
}

// Status lists the protected Routes proxyless gRPC clients are denied (or
// get unprotected), so `gatehouse status` can say so; it follows edits.
func TestStatusSaysWhatProxylessClientsMiss(t *testing.T) {
	f := start(t, map[string]string{"all.yaml": basePolicy})
	f.waitFor(t, "first build", func() bool { return f.ctrl.Ready() })
	if n := f.ctrl.Status().Proxyless; len(n) != 0 {
		t.Fatalf("notes without protected routes: %v", n)
	}
	f.dir.set(map[string]string{"all.yaml": basePolicy, "auth.yaml": `kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Route
name: admin
spec:
  gateways: [public]
  hosts: [api.example.com]
  match: {path: {prefix: /admin}}
  backends: [{service: app}]
  authentication: [keys]
`})
	f.ctrl.PolicyChanged()
	f.waitFor(t, "proxyless note", func() bool { return len(f.ctrl.Status().Proxyless) == 1 })
	if n := f.ctrl.Status().Proxyless[0]; !strings.HasPrefix(n, "Gateway/public: Route/admin is withheld from proxyless gRPC clients") {
		t.Fatalf("note %q", n)
	}
}

// Served is what the last successful build published, for explain: the
// policy and the groups the proxies have, kept when a later build fails.
func TestServedIsTheLastPublished(t *testing.T) {
	f := start(t, map[string]string{"all.yaml": basePolicy})
	s := f.ctrl.Served()
	if s.Policy == nil || len(s.Groups) == 0 {
		t.Fatalf("after the first build: Served() = %+v", s)
	}
	if _, ok := s.Policy.Gateways["public"]; !ok {
		t.Fatalf("served policy has no Gateway public: %v", sortedKeys(s.Policy.Gateways))
	}
	for k := range s.Groups {
		if !f.pub.Has(k) {
			t.Errorf("served group %v is not published", k)
		}
	}
}
