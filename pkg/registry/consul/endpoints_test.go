package consul

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

func entry(nodeAddr string, nodeMeta map[string]string, addr string, port, weight int, meta map[string]string) *api.ServiceEntry {
	return &api.ServiceEntry{
		Node:    &api.Node{Node: "n-" + nodeAddr, Address: nodeAddr, Meta: nodeMeta},
		Service: &api.AgentService{Address: addr, Port: port, Weights: api.AgentWeights{Passing: weight}, Meta: meta},
	}
}

func TestEndpointsOf(t *testing.T) {
	got, skipped := endpointsOf([]*api.ServiceEntry{
		entry("10.0.0.2", map[string]string{"zone": "node-zone"}, "", 80, 0, nil),                                           // node address, node zone, weight 1
		entry("10.0.0.3", map[string]string{"zone": "node-zone"}, "10.1.0.3", 81, 5, map[string]string{"zone": "svc-zone"}), // service wins
		entry("10.0.0.4", nil, "not-an-ip.example", 80, 1, nil),                                                             // skipped: EDS needs IPs
		entry("10.0.0.5", nil, "", 0, 1, nil),                                                                               // skipped: no port
		entry("10.0.0.8", nil, "fe80::1%eth0", 80, 1, nil),                                                                  // skipped: Envoy refuses an IPv6 zone
		entry("10.0.0.6", nil, "10.1.0.6", 82, 2, nil),
		entry("10.0.0.7", nil, "10.1.0.6", 82, 3, nil), // same process twice: weights add
		{Node: &api.Node{}}, // no service: skipped
	})
	want := []registry.Endpoint{
		{Address: "10.1.0.6", Port: 82, Weight: 5},
		{Address: "10.0.0.2", Port: 80, Weight: 1, Zone: "node-zone"},
		{Address: "10.1.0.3", Port: 81, Weight: 5, Zone: "svc-zone"},
	}
	if !registry.Equal(got, want) {
		t.Fatalf("endpoints:\n got %+v\nwant %+v", got, want)
	}
	if skipped != 4 {
		t.Fatalf("skipped %d, want 4", skipped)
	}
}

func TestZoneOf(t *testing.T) {
	loc := func(z string) *api.Locality { return &api.Locality{Region: "r", Zone: z} }
	for _, tc := range []struct {
		name        string
		svcMeta     string
		svcLocality *api.Locality
		nodeMeta    string
		nodeLoc     *api.Locality
		want        string
	}{
		{name: "none"},
		{name: "service meta first", svcMeta: "sm", svcLocality: loc("sl"), nodeMeta: "nm", nodeLoc: loc("nl"), want: "sm"},
		{name: "service locality next", svcLocality: loc("sl"), nodeMeta: "nm", nodeLoc: loc("nl"), want: "sl"},
		{name: "service locality without zone", svcLocality: loc(""), nodeMeta: "nm", want: "nm"},
		{name: "node meta next", nodeMeta: "nm", nodeLoc: loc("nl"), want: "nm"},
		{name: "node locality last", nodeLoc: loc("nl"), want: "nl"},
	} {
		e := &api.ServiceEntry{
			Node:    &api.Node{Locality: tc.nodeLoc},
			Service: &api.AgentService{Locality: tc.svcLocality},
		}
		if tc.svcMeta != "" {
			e.Service.Meta = map[string]string{"zone": tc.svcMeta}
		}
		if tc.nodeMeta != "" {
			e.Node.Meta = map[string]string{"zone": tc.nodeMeta}
		}
		if got := zoneOf(e); got != tc.want {
			t.Errorf("%s: zone %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := zoneOf(&api.ServiceEntry{Service: &api.AgentService{}}); got != "" {
		t.Errorf("no node: zone %q", got)
	}
}

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, 2*time.Second
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000, 2000} {
		want *= time.Millisecond
		for i := 0; i < 50; i++ {
			d := backoff(attempt, base, max)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	// Jitter: many retries at once do not all pick the same delay.
	seen := map[time.Duration]bool{}
	for i := 0; i < 20; i++ {
		seen[backoff(3, base, max)] = true
	}
	if len(seen) < 5 {
		t.Fatalf("backoff is not jittered: %v", seen)
	}
}

func TestKeyOfSortsAndDedupesTags(t *testing.T) {
	a := keyOf(policy.ConsulDiscovery{Service: "users", Tags: []string{"v1", "blue", "v1"}, Datacenter: "dc2"})
	b := keyOf(policy.ConsulDiscovery{Service: "users", Tags: []string{"blue", "v1"}, Datacenter: "dc2"})
	if a != b {
		t.Fatalf("tag order or duplicates changed the key: %+v vs %+v", a, b)
	}
	if got := a.tagList(); len(got) != 2 || got[0] != "blue" || got[1] != "v1" {
		t.Fatalf("tagList %v", got)
	}
	if keyOf(policy.ConsulDiscovery{Service: "users"}).tagList() != nil {
		t.Fatal("no tags must give a nil tag list (no tag filter)")
	}
}

// newOffline returns a Source that never talks to Consul (Run is not
// called): tests drive applyLocked and nextSnapshot directly.
func newOffline(t *testing.T) *Source {
	t.Helper()
	s, err := New(Config{Address: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func apply(s *Source, d policy.ConsulDiscovery, entries []*api.ServiceEntry, idx uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applyLocked(keyOf(d), entries, idx, err)
}

func snapshot(t *testing.T, s *Source) registry.Snapshot {
	t.Helper()
	snap, _ := s.nextSnapshot()
	if snap == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.emitted
	}
	return snap
}

// The last-known-good rules: errors never empty a Service, a successful
// empty read does, and a changed query keeps the old endpoints until read.
func TestLastKnownGood(t *testing.T) {
	s := newOffline(t)
	users := policy.ConsulDiscovery{Service: "users", Tags: []string{"v1"}}
	s.SetServices(map[string]policy.ConsulDiscovery{"users": users, "users-copy": users})
	if s.Synced() {
		t.Fatal("synced before any read")
	}
	if snap := snapshot(t, s); len(snap) != 0 {
		t.Fatalf("unread services must be absent, got %v", snap)
	}

	apply(s, users, []*api.ServiceEntry{entry("10.0.0.1", nil, "", 80, 1, nil)}, 10, nil)
	if !s.Synced() {
		t.Fatal("not synced after a successful read")
	}
	snap := snapshot(t, s)
	if len(snap["users"]) != 1 || len(snap["users-copy"]) != 1 {
		t.Fatalf("both policy Services share the query's endpoints: %v", snap)
	}

	apply(s, users, nil, 0, errors.New("connection refused"))
	if snap := snapshot(t, s); len(snap["users"]) != 1 {
		t.Fatalf("a failed read emptied the Service: %v", snap)
	}
	if st := s.Status(); st.Services[0].State != "error" || st.Services[0].Instances != 1 {
		t.Fatalf("status after a failed read: %+v", st.Services[0])
	}

	// A new query for the same policy Service keeps the old endpoints until read.
	v2 := policy.ConsulDiscovery{Service: "users", Tags: []string{"v2"}}
	s.SetServices(map[string]policy.ConsulDiscovery{"users": v2})
	if snap := snapshot(t, s); len(snap["users"]) != 1 || len(snap) != 1 {
		t.Fatalf("after a tag change before the first read: %v (want users kept, users-copy gone)", snap)
	}
	if s.Synced() {
		t.Fatal("synced although the new query was never read")
	}
	apply(s, v2, []*api.ServiceEntry{}, 11, nil)
	if snap := snapshot(t, s); snap["users"] == nil || len(snap["users"]) != 0 {
		t.Fatalf("a successful read with no instances must empty the Service: %v", snap)
	}
	if st := s.Status(); st.Services[0].State != "no instances yet" {
		t.Fatalf("status: %+v", st.Services[0])
	}
}

// An unchanged read does not report a new snapshot.
func TestNoEmitWithoutChange(t *testing.T) {
	s := newOffline(t)
	d := policy.ConsulDiscovery{Service: "a"}
	s.SetServices(map[string]policy.ConsulDiscovery{"a": d})
	apply(s, d, []*api.ServiceEntry{entry("10.0.0.1", nil, "", 80, 1, nil)}, 5, nil)
	if _, ok := s.nextSnapshot(); !ok {
		t.Fatal("first read must be reported")
	}
	apply(s, d, []*api.ServiceEntry{entry("10.0.0.1", nil, "", 80, 1, nil)}, 6, nil)
	if snap, ok := s.nextSnapshot(); ok {
		t.Fatalf("same endpoints reported again: %v", snap)
	}
}
