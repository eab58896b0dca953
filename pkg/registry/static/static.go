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
	for name, svc := range snap.Services {
		if svc.Spec.Discovery.Static == nil {
			continue
		}
		eps := make([]registry.Endpoint, 0, len(svc.Spec.Discovery.Static))
		for _, e := range svc.Spec.Discovery.Static {
			w := e.Weight
			if w == 0 {
				w = 1
			}
			eps = append(eps, registry.Endpoint{Address: e.Address, Port: e.Port, Weight: w, Zone: e.Zone})
		}
		registry.Sort(eps)
		out[name] = eps
	}
	return out
}
