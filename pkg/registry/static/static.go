// Package static is the embedded discovery source: endpoints listed in a
// Service's `discovery.static` field.
package static

import (
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// Endpoints returns the static endpoints of every Service in snap that uses
// static discovery. Services using another source are absent.
func Endpoints(snap *policy.Snapshot) registry.Snapshot {
	out := make(registry.Snapshot, len(snap.Services))
	total := 0
	for _, svc := range snap.Services {
		total += len(svc.Spec.Discovery.Static)
	}
	// One allocation for every Service's endpoints; each Service's slice
	// is capped at its own length, so an append never reaches the next.
	slab := make([]registry.Endpoint, 0, total)
	for name, svc := range snap.Services {
		if svc.Spec.Discovery.Static == nil {
			continue
		}
		start := len(slab)
		for _, e := range svc.Spec.Discovery.Static {
			w := e.Weight
			if w == 0 {
				w = 1
			}
			slab = append(slab, registry.Endpoint{Address: e.Address, Port: e.Port, Weight: w, Zone: e.Zone})
		}
		eps := slab[start:len(slab):len(slab)]
		registry.Sort(eps)
		out[name] = eps
	}
	return out
}
