package static

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// TestEndpoints: every static Service gets its endpoints sorted (zone,
// address, port), weight 0 read as 1, in a slice capped at its length;
// Services discovered otherwise are absent.
func TestEndpoints(t *testing.T) {
	snap := &policy.Snapshot{Services: map[string]*policy.Service{
		"consul": {Spec: policy.ServiceSpec{Discovery: policy.Discovery{Consul: &policy.ConsulDiscovery{Service: "x"}}}},
	}}
	const n = 300
	for i := range n {
		var eps []policy.StaticEndpoint
		for j := 5; j > 0; j-- {
			eps = append(eps, policy.StaticEndpoint{Address: fmt.Sprintf("10.0.%d.%d", i%7, j), Port: 8000 + j, Zone: fmt.Sprintf("z%d", j%2), Weight: j % 3})
		}
		snap.Services[fmt.Sprintf("svc-%d", i)] = &policy.Service{Spec: policy.ServiceSpec{Discovery: policy.Discovery{Static: eps}}}
	}
	got := Endpoints(snap)
	if len(got) != n {
		t.Fatalf("%d Services, want %d (the Consul one absent)", len(got), n)
	}
	if _, ok := got["consul"]; ok {
		t.Fatal("a Consul-discovered Service has static endpoints")
	}
	for name, eps := range got {
		if !slices.IsSortedFunc(eps, func(a, b registry.Endpoint) int {
			c := slices.Compare([]string{a.Zone, a.Address}, []string{b.Zone, b.Address})
			if c == 0 {
				c = a.Port - b.Port
			}
			return c
		}) {
			t.Fatalf("%s: not sorted: %v", name, eps)
		}
		if len(eps) != 5 || cap(eps) != 5 {
			t.Fatalf("%s: len %d cap %d, want 5 and 5", name, len(eps), cap(eps))
		}
		for _, e := range eps {
			if e.Weight < 1 {
				t.Fatalf("%s: weight %d", name, e.Weight)
			}
		}
	}
}
