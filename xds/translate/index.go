package translate

import (
	"sort"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// index holds lookups derived once per Translate call, so that building
// several Gateways does not rescan the snapshot. Nothing here mutates the
// snapshot.
type index struct {
	snap *policy.Snapshot
	byGW map[string][]*policy.Route // sorted by name
	// clusters caches built clusters per client kind. Each kind's map is
	// only touched by the goroutine building that kind's groups.
	clusters map[ClientKind]map[string]*builtCluster
}

func newIndex(p *policy.Snapshot) *index {
	ix := &index{
		snap: p,
		byGW: make(map[string][]*policy.Route, len(p.Gateways)),
		clusters: map[ClientKind]map[string]*builtCluster{
			ClientEnvoy: make(map[string]*builtCluster, len(p.Services)),
			ClientGRPC:  make(map[string]*builtCluster, len(p.Services)),
		},
	}
	for _, name := range sortedKeys(p.Routes) {
		r := p.Routes[name]
		seen := make(map[string]bool, len(r.Spec.Gateways))
		for _, gw := range r.Spec.Gateways {
			if seen[gw] {
				continue
			}
			seen[gw] = true
			ix.byGW[gw] = append(ix.byGW[gw], r)
		}
	}
	return ix
}

// routesOf returns the Routes attached to a Gateway, sorted by name.
func (ix *index) routesOf(gw string) []*policy.Route { return ix.byGW[gw] }

// servicesOf returns the sorted names of the Services the routes send to.
func servicesOf(routes []*policy.Route) []string {
	set := make(map[string]struct{}, len(routes))
	for _, r := range routes {
		for _, b := range r.Spec.Backends {
			set[b.Service] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// routeHosts applies the hosts default: none means every host.
func routeHosts(r *policy.Route) []string {
	if len(r.Spec.Hosts) == 0 {
		return []string{"*"}
	}
	return r.Spec.Hosts
}
