// Package registry holds service-registry state: which endpoints each
// Service has right now, and the Source interface that discovery backends
// (static, Consul) implement.
package registry

import (
	"cmp"
	"slices"
	"strings"
)

// Endpoint is one instance of a Service.
type Endpoint struct {
	Address string
	Port    int
	Weight  int    // >= 1
	Zone    string // Envoy locality zone; "" for none
	// Draining: the instance is shutting down but still serving (a
	// terminating Kubernetes endpoint). It is published with health status
	// DRAINING: no new requests, but open ones finish.
	Draining bool
}

// Snapshot maps a Service name to its endpoints, sorted by (Zone, Address, Port).
// A Service absent from the map has no known endpoints yet. Slices are never
// modified once in a Snapshot: a source that changes a Service's endpoints
// puts a new slice in a new Snapshot.
type Snapshot map[string][]Endpoint

// Sort orders endpoints by (Zone, Address, Port), the order Snapshot
// promises. (A typed sort: sort.Slice's reflective swaps were most of the
// static source's cost in a full build of 1,000 Services.)
func Sort(eps []Endpoint) {
	slices.SortFunc(eps, compareEndpoints)
}

func compareEndpoints(a, b Endpoint) int {
	if c := strings.Compare(a.Zone, b.Zone); c != 0 {
		return c
	}
	if c := strings.Compare(a.Address, b.Address); c != 0 {
		return c
	}
	return cmp.Compare(a.Port, b.Port)
}

// Equal reports whether two sorted endpoint lists are the same.
func Equal(a, b []Endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		// The same backing array: sources replace a Service's slice when
		// it changes (copy on write), so an unchanged Service costs nothing.
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Equal reports whether s and o hold the same Services with the same
// endpoints. Sources compare what they are about to report with what they
// reported last, and report nothing when it is the same.
func (s Snapshot) Equal(o Snapshot) bool {
	if len(s) != len(o) {
		return false
	}
	for name, eps := range s {
		prev, ok := o[name]
		if !ok || !Equal(prev, eps) {
			return false
		}
	}
	return true
}
