package translate

import (
	"fmt"
	"sort"
	"sync/atomic"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/parallel"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// index holds what one Translate call derives from the snapshot before
// building groups: routes by Gateway, and every Route and Cluster proto,
// built once whatever the number of Gateways and listeners using them.
// It is read-only once built, so groups are built from it concurrently.
type index struct {
	snap     *policy.Snapshot
	byGW     map[string][]*policy.Route // sorted by name
	routes   map[*policy.Route]*builtRoute
	clusters map[clusterKey]*builtCluster
	// routeEnc holds the encodings of the Route protos of routes.
	routeEnc routeEncodings
	// zone is Options.Zone: the zone of Gateways without spec.zone.
	zone string
	// pre holds the Routes and Clusters built here that passed their own
	// rules (precheck.go).
	pre *prechecked
	// edsTargets are the EDS names of the Clusters, for Options.EDSReady.
	edsTargets []EDSTarget
}

// clusterKey names one built cluster: a Service as the Gateways of one
// zone see it ("" for Gateways with no zone). Zones differ only in the
// priorities of the endpoints, so they differ only in the EDS name.
type clusterKey struct{ service, zone string }

// zoneOf is the zone of a Gateway's proxies: its spec.zone, else the
// default (serve --zone), else "" (no zone: every endpoint priority 0).
func (ix *index) zoneOf(gw *policy.Gateway) string {
	if gw.Spec.Zone != "" {
		return gw.Spec.Zone
	}
	return ix.zone
}

// builtRoute is one policy Route as each client kind gets it. The two
// share their match and target messages where they are the same.
type builtRoute struct {
	key   orderKey
	envoy *routev3.Route
	grpc  *routev3.Route
	// streaming: policy.Route.IsStreaming; the listeners serving it get no
	// request_timeout.
	streaming bool
	// encEnvoy and encGRPC are the deterministic encodings of envoy and
	// grpc (nil if encoding failed): route tables are hashed from them
	// (routehash.go), and Memo keeps them with the Route.
	encEnvoy, encGRPC []byte
}

func newIndex(p *policy.Snapshot, opts Options) (*index, error) {
	ix := &index{
		snap: p,
		byGW: make(map[string][]*policy.Route, len(p.Gateways)),
		zone: opts.Zone,
	}
	var attached []*policy.Route
	for _, name := range sortedKeys(p.Routes) {
		r := p.Routes[name]
		seen := false
		for i, gw := range r.Spec.Gateways {
			if p.Gateways[gw] == nil || contains(r.Spec.Gateways[:i], gw) {
				continue
			}
			ix.byGW[gw] = append(ix.byGW[gw], r)
			seen = true
		}
		if seen {
			attached = append(attached, r)
		}
	}
	for _, r := range attached { // sorted: the first offender is reported
		for _, s := range forwardServices(r) {
			if p.Services[s] == nil {
				return nil, fmt.Errorf("gateway %s: %s: cluster %s: Service/%s does not exist", firstGateway(p, r), r.Meta.Ref(), clusterName(s), s)
			}
		}
	}

	for _, name := range sortedKeys(p.Gateways) {
		for _, s := range telemetryServices(p.Gateways[name]) {
			if p.Services[s] == nil {
				return nil, fmt.Errorf("gateway %s: cluster %s: Service/%s does not exist", name, clusterName(s), s)
			}
		}
	}

	// Only the memo's previous generation is read here (side by side);
	// keep replaces it once everything is built.
	memo := opts.Memo
	memo.sameServices(p.Services)
	var hits atomic.Int64
	// Each goroutine checks the own rules of what it builds (precheck.go);
	// a memoised Route or Cluster is left to Check, which finds it in the
	// memo if it passed before.
	routes := make([]*builtRoute, len(attached))
	routeOK := make([]uint8, len(attached))
	digests := make([]objDigest, len(attached))
	workers := parallel.Workers(len(attached), parallelMin)
	owns := make([]ownChecker, workers)
	parallel.For(workers, len(attached), func(w, i int) error {
		br, d := memo.route(attached[i])
		digests[i] = d
		if br != nil {
			routes[i] = br
			hits.Add(1)
			return nil
		}
		br = buildRoute(attached[i], p.Services)
		br.encEnvoy, _ = deterministic.Marshal(br.envoy)
		routeOK[i] = owns[w].route(br.envoy, br.encEnvoy, true)
		if br.grpc != nil {
			br.encGRPC, _ = deterministic.Marshal(br.grpc)
			routeOK[i] |= owns[w].route(br.grpc, br.encGRPC, false)
		}
		routes[i] = br
		return nil
	})
	ix.pre = &prechecked{routes: make(map[*routev3.Route]uint8, 2*len(attached))}
	ix.routes = make(map[*policy.Route]*builtRoute, len(attached))
	ix.routeEnc = make(routeEncodings, 2*len(attached))
	for i, r := range attached {
		br := routes[i]
		ix.routes[r] = br
		if br.encEnvoy != nil {
			ix.routeEnc[br.envoy] = br.encEnvoy
		}
		if br.grpc != nil && br.encGRPC != nil {
			ix.routeEnc[br.grpc] = br.encGRPC
		}
		if ok := routeOK[i]; ok != 0 {
			ix.pre.routes[br.envoy] |= ok & precheckEnvoy
			if br.grpc != nil {
				ix.pre.routes[br.grpc] |= ok & precheckGRPC
			}
		}
	}

	keys := clusterKeys(p, ix)
	clusters := make([]*builtCluster, len(keys))
	clusterOK := make([]uint8, len(keys))
	workers = parallel.Workers(len(keys), parallelMin)
	owns = make([]ownChecker, workers)
	err := parallel.For(workers, len(keys), func(w, i int) error {
		if bc := memo.cluster(keys[i], opts.SystemCAFile); bc != nil {
			clusters[i] = bc
			hits.Add(1)
			return nil
		}
		bc, err := buildClusters(p.Services[keys[i].service], opts.SystemCAFile, keys[i].zone)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", clusterName(keys[i].service), err)
		}
		clusters[i] = bc
		clusterOK[i] = owns[w].cluster(bc.envoy, bc.envoyEnc, true) | owns[w].cluster(bc.grpc, nil, false)
		bc.envoyEnc = nil // only for the precheck: Memo keeps bc
		return nil
	})
	if err != nil {
		return nil, err
	}
	ix.pre.clusters = make(map[*clusterv3.Cluster]uint8, 2*len(keys))
	ix.clusters = make(map[clusterKey]*builtCluster, len(keys))
	for i, k := range keys {
		ix.clusters[k] = clusters[i]
		if ok := clusterOK[i]; ok != 0 {
			ix.pre.clusters[clusters[i].envoy] |= ok & precheckEnvoy
			ix.pre.clusters[clusters[i].grpc] |= ok & precheckGRPC
		}
	}
	if opts.EDSReady != nil {
		ix.edsTargets = make([]EDSTarget, 0, len(keys))
		for i, k := range keys {
			if bc := clusters[i]; bc.envoy.GetType() == clusterv3.Cluster_EDS {
				ix.edsTargets = append(ix.edsTargets, EDSTarget{EDS: bc.eds, Service: k.service, Zone: k.zone})
			}
		}
	}
	if memo != nil {
		memo.keepAsync(ix.pre, func() {
			memo.keep(attached, routes, digests, p.Services, keys, clusters, opts.SystemCAFile, int(hits.Load()))
		})
	}
	return ix, nil
}

// clusterKeys lists, sorted, the clusters the Gateways need: each Service
// their Routes send to, in each zone of a Gateway sending to it.
func clusterKeys(p *policy.Snapshot, ix *index) []clusterKey {
	set := map[clusterKey]struct{}{}
	for gw, routes := range ix.byGW {
		z := ix.zoneOf(p.Gateways[gw])
		for _, s := range servicesOf(routes) {
			set[clusterKey{s, z}] = struct{}{}
		}
	}
	for _, gw := range p.Gateways { // collectors, also of Gateways without Routes
		for _, s := range telemetryServices(gw) {
			set[clusterKey{s, ix.zoneOf(gw)}] = struct{}{}
		}
	}
	keys := make([]clusterKey, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].service != keys[j].service {
			return keys[i].service < keys[j].service
		}
		return keys[i].zone < keys[j].zone
	})
	return keys
}

// firstGateway is the first existing Gateway a Route names, for errors.
func firstGateway(p *policy.Snapshot, r *policy.Route) string {
	for _, gw := range r.Spec.Gateways {
		if p.Gateways[gw] != nil {
			return gw
		}
	}
	return "?"
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// parallelMin is the number of Routes, Clusters or Services per goroutine
// below which a goroutine is not worth starting.
const parallelMin = 64

// routesOf returns the Routes attached to a Gateway, sorted by name.
func (ix *index) routesOf(gw string) []*policy.Route { return ix.byGW[gw] }

// sortRoutes orders routes most specific first (POLICY-MODEL.md).
func (ix *index) sortRoutes(rs []*policy.Route) {
	sort.Slice(rs, func(i, j int) bool { return ix.routes[rs[i]].key.less(ix.routes[rs[j]].key) })
}

// servicesOf returns the sorted names of the Services the routes send to.
func servicesOf(routes []*policy.Route) []string { return servicesOfKind(routes, true) }

// backendsOf is servicesOf without mirrors: what proxyless clients, which
// do not mirror, send to.
func backendsOf(routes []*policy.Route) []string { return servicesOfKind(routes, false) }

// forwardServices lists every Service r sends requests to: backends, then
// mirrors.
func forwardServices(r *policy.Route) []string {
	out := make([]string, 0, len(r.Spec.Backends)+len(r.Spec.Mirror))
	for _, b := range r.Spec.Backends {
		out = append(out, b.Service)
	}
	return append(out, r.MirrorServices()...)
}

func servicesOfKind(routes []*policy.Route, mirrors bool) []string {
	set := make(map[string]struct{}, len(routes))
	for _, r := range routes {
		for _, b := range r.Spec.Backends {
			set[b.Service] = struct{}{}
		}
		if mirrors {
			for _, m := range r.Spec.Mirror {
				set[m.Service] = struct{}{}
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// telemetryServices returns the sorted names of the Services a Gateway's
// proxies send telemetry to (collectors), which need clusters whether or
// not a Route uses them. Envoy only: proxyless clients get none.
func telemetryServices(gw *policy.Gateway) []string {
	var out []string
	if al := gw.Spec.AccessLog; al != nil && al.OpenTelemetry != nil {
		out = append(out, al.OpenTelemetry.Service)
	}
	if tr := gw.Spec.Tracing; tr != nil {
		out = append(out, tr.Service)
	}
	out = unionSorted(nil, out) // both may name one collector
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
