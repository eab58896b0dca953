package translate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Check's own rules for each Route and Cluster (ValidateAll, the walk for
// fields Envoy does not ship, the load-time rules of one resource) were
// about half of a cold build's CPU at the scale of issue 10, and ran after
// the resources were built, one group per core. They depend on nothing but
// the resource and the client kind (which is why Memo may skip them for a
// resource that passed before), so newIndex runs them as it builds each
// Route and Cluster, spread over the cores with the building, and Check
// skips them for the very protos that passed (Group.pre). Nothing is
// skipped that did not run on the same pointer for the same client kind; a
// resource that fails is not recorded, so Check runs its rules again in
// its group and reports it with its place (route config, virtual host).
// TestPrecheckCoversTranslatedResources, TestPrecheckDoesNotRecordFailures.

// prechecked holds, by pointer, the Routes and Clusters that passed their
// own rules in newIndex: bit precheckEnvoy for an Envoy group,
// precheckGRPC for a proxyless one. Read only once newIndex returns.
type prechecked struct {
	routes   map[*routev3.Route]uint8
	clusters map[*clusterv3.Cluster]uint8
}

const (
	precheckEnvoy uint8 = 1 << iota
	precheckGRPC
)

func kindBit(envoy bool) uint8 {
	if envoy {
		return precheckEnvoy
	}
	return precheckGRPC
}

// has reports whether res passed its own rules for the client kind.
func (p *prechecked) has(res any, envoy bool) bool {
	if p == nil {
		return false
	}
	var bits uint8
	switch r := res.(type) {
	case *routev3.Route:
		bits = p.routes[r]
	case *clusterv3.Cluster:
		bits = p.clusters[r]
	}
	return bits&kindBit(envoy) != 0
}

// ownChecker runs the own rules of one resource at a time, for one
// goroutine of newIndex: a checker per client kind, kept across resources
// so that its caches (typed configs walked, regexes sized) serve them all.
type ownChecker struct {
	kinds [2]*checker // [0] proxyless gRPC, [1] Envoy
}

func (o *ownChecker) of(envoy bool) *checker {
	i := 0
	if envoy {
		i = 1
	}
	if o.kinds[i] == nil {
		c := &checker{g: &Group{}, envoy: envoy, types: map[string]protoreflect.MessageType{}}
		c.routeAtFn = c.routeAt
		o.kinds[i] = c
	}
	return o.kinds[i]
}

// route reports whether r passes its own rules (routeOwnRules), given
// enc, its deterministic encoding, which the walk for unshipped elements
// reads instead of reflecting over r (walkEncoded). Without enc (its
// encoding failed) r fails here, and Check runs its rules in its group.
func (o *ownChecker) route(r *routev3.Route, enc []byte, envoy bool) uint8 {
	o.of(envoy).routeOwn("", "", r, enc, true)
	return o.done(envoy)
}

// cluster reports whether cl passes its own rules (checker.cluster), given
// its deterministic encoding as route does.
func (o *ownChecker) cluster(cl *clusterv3.Cluster, enc []byte, envoy bool) uint8 {
	o.of(envoy).clusterOwn(cl, enc, true)
	return o.done(envoy)
}

// done returns the kind's bit if the resource just checked passed, else 0;
// after a failure it drops the checker: its caches may then hold an entry
// that failed (a typed config walked, a regex), which would let a later
// resource sharing it pass without the failure being seen.
func (o *ownChecker) done(envoy bool) uint8 {
	i := 0
	if envoy {
		i = 1
	}
	if o.kinds[i].failures == 0 {
		return kindBit(envoy)
	}
	o.kinds[i] = nil
	return 0
}
