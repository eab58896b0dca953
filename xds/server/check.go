package server

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// maxCheckErrors bounds the errors one check reports; the first few are
// enough to find a translator bug.
const maxCheckErrors = 10

// groupRefs caches what each type of a group refers to, recomputed only
// for types whose resources changed.
type groupRefs struct {
	listeners     listenerRefs
	routeClusters nameSet
	// routeSecrets: SDS secrets named by per-route filter configs (the
	// OAuth2 filter's client secret and HMAC key).
	routeSecrets nameSet
	clusters     clusterRefs
}

// checkRefs is gatehouse's own reference check (go-control-plane's
// Consistent() misses api_listeners): every route config, cluster, EDS name
// and secret a resource names must be in the snapshot, so that a client is
// never sent a route to a cluster it cannot have (make-before-break).
//
// For Envoy groups it also requires that every RDS, EDS and SDS resource be
// named by something: the ADS-mode cache answers a request for those types
// only when the request names all of the snapshot's resources of that type,
// and Envoy asks only for what its listeners and clusters name, so an
// unreferenced resource would block that type for good.
func checkRefs(kind translate.ClientKind, st *[numTypes]typeState, refs *groupRefs) error {
	var errs []error
	fail := func(format string, args ...any) {
		if len(errs) < maxCheckErrors {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	has := func(t typeIdx, name string) bool {
		_, ok := slices.BinarySearch(st[t].names, name)
		return ok
	}
	for n := range refs.listeners.routes {
		if !has(tRoutes, n) {
			fail("a listener names route configuration %q, which is missing", n)
		}
	}
	for n := range refs.routeClusters {
		if !has(tClusters, n) {
			fail("a route names cluster %q, which is missing", n)
		}
	}
	for n := range refs.listeners.clusters {
		if !has(tClusters, n) {
			fail("an inline route configuration names cluster %q, which is missing", n)
		}
	}
	for n := range refs.clusters.endpoints {
		if !has(tEndpoints, n) {
			fail("a cluster names EDS resource %q, which is missing", n)
		}
	}
	for n := range refs.listeners.secrets {
		if !has(tSecrets, n) {
			fail("a listener names secret %q, which is missing", n)
		}
	}
	for n := range refs.clusters.secrets {
		if !has(tSecrets, n) {
			fail("a cluster names secret %q, which is missing", n)
		}
	}
	for n := range refs.routeSecrets {
		if !has(tSecrets, n) {
			fail("a route configuration names secret %q, which is missing", n)
		}
	}
	if kind == translate.ClientEnvoy {
		for _, n := range st[tRoutes].names {
			if _, ok := refs.listeners.routes[n]; !ok {
				fail("route configuration %q is named by no listener", n)
			}
		}
		for _, n := range st[tEndpoints].names {
			if _, ok := refs.clusters.endpoints[n]; !ok {
				fail("EDS resource %q is named by no cluster", n)
			}
		}
		for _, n := range st[tSecrets].names {
			_, l := refs.listeners.secrets[n]
			_, c := refs.clusters.secrets[n]
			_, r := refs.routeSecrets[n]
			if !l && !c && !r {
				fail("secret %q is named by no listener, route configuration or cluster", n)
			}
		}
	}
	return errors.Join(errs...)
}

// refresh recomputes the references of the types whose resources moved.
// The clusters' are collected beside the routes' when both moved (a cold
// build: about a millisecond each for 1,000 of each, on the publisher's
// serial path).
func (r *groupRefs) refresh(st *[numTypes]typeState, moved [numTypes]bool, all bool) error {
	var err, clusterErr error
	var wg sync.WaitGroup
	if all || moved[tClusters] {
		wg.Go(func() { r.clusters, clusterErr = collectClusterRefs(st[tClusters].items) })
	}
	defer wg.Wait() // before r is read, on every path
	if all || moved[tListeners] {
		if r.listeners, err = collectListenerRefs(st[tListeners].items); err != nil {
			return err
		}
	}
	if all || moved[tRoutes] {
		if r.routeClusters, err = collectRouteClusters(st[tRoutes].items, len(st[tClusters].items)); err != nil {
			return err
		}
		if r.routeSecrets, err = collectRouteSecrets(st[tRoutes].items); err != nil {
			return err
		}
	}
	wg.Wait()
	return clusterErr
}
