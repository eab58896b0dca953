// Package registry holds service-registry state: which endpoints each
// Service has right now, and the Source interface that discovery backends
// (static, Consul) implement.
package registry

// Endpoint is one instance of a Service.
type Endpoint struct {
	Address string
	Port    int
	Weight  int    // >= 1
	Zone    string // Envoy locality zone; "" for none
}

// Snapshot maps a Service name to its endpoints, sorted by (Zone, Address, Port).
// A Service absent from the map has no known endpoints yet.
type Snapshot map[string][]Endpoint
