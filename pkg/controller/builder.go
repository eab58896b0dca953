package controller

import (
	"fmt"
	"maps"
	"sync/atomic"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/gatehouse-dev/gatehouse/pkg/parallel"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Builder turns a policy snapshot and registry state into what is
// published, remembering the last result so that an endpoint-only change
// rebuilds only the ClusterLoadAssignments of the Services that changed.
// It is not safe for concurrent use; the controller loop owns it.
type Builder struct {
	Options translate.Options

	groups    map[translate.GroupKey]*translate.Group
	endpoints registry.Snapshot
	clas      map[string]*endpointv3.ClusterLoadAssignment
	edsOf     map[string][]string // service -> EDS names that carry it
	zoneOf    map[string]string   // EDS name -> local zone (translate.Group.LocalZone)
	// memo carries translated resources from one build to the next
	// (translate.Memo), unless Options.Memo is set.
	memo *translate.Memo
}

// Result is one build's output.
type Result struct {
	Groups map[translate.GroupKey]*translate.Group
	CLAs   map[string]*endpointv3.ClusterLoadAssignment
	// CLAHashes holds the content hash (translate.ContentHash) of each CLA
	// built by this build (not those kept from the last), computed where
	// they were built, for the publisher (Publisher.Publish).
	CLAHashes map[types.Resource]uint64
	// EndpointsChanged counts the ClusterLoadAssignments built anew.
	EndpointsChanged int
	// eds is Groups' EDS index (edsIndex) when a policy build made new
	// groups: built on a goroutine of its own while the caller publishes,
	// waited for by Commit (it was 0.8 ms of serial work on a full build).
	eds *pendingEDSIndex
}

// pendingEDSIndex is an edsIndex being built.
type pendingEDSIndex struct {
	done chan struct{}
	of   map[string][]string
	zone map[string]string
}

func startEDSIndex(groups map[translate.GroupKey]*translate.Group) *pendingEDSIndex {
	p := &pendingEDSIndex{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.of, p.zone = edsIndex(groups)
	}()
	return p
}

// Build translates snap when policyChanged (or on the first call) and builds
// the endpoints for eps. Nothing is remembered unless Commit is called, so
// a failed publish leaves the Builder at the last good state.
func (b *Builder) Build(snap *policy.Snapshot, eps registry.Snapshot, policyChanged bool) (*Result, error) {
	groups := b.groups
	if policyChanged || groups == nil {
		opts := b.Options
		if opts.Memo == nil {
			if b.memo == nil {
				b.memo = translate.NewMemo()
			}
			opts.Memo = b.memo
		}
		early := &earlyCLAs{b: b, eps: eps}
		if opts.EDSReady == nil {
			opts.EDSReady = early.start
		}
		g, err := translate.Translate(snap, opts)
		built := early.wait() // also when Translate failed: no goroutine outlives Build
		if err != nil {
			return nil, fmt.Errorf("translating policy: %w", err)
		}
		groups = holdBack(g, b.groups, snap.Held)
		r := &Result{Groups: groups}
		if !sameGroups(b.groups, groups) {
			r.eds = startEDSIndex(groups)
		}
		r.CLAs, r.CLAHashes, err = b.allEndpoints(groups, eps, built)
		r.EndpointsChanged = len(r.CLAHashes)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	r := &Result{Groups: groups}
	var err error
	r.CLAs, r.CLAHashes, err = b.changedEndpoints(eps)
	r.EndpointsChanged = len(r.CLAHashes)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// holdBack replaces the groups of every held Gateway (policy.Snapshot.Held:
// one of its Routes cannot be served and has no last good version) by the
// groups last published for it, or leaves it out when none was (a fresh
// start): another Route of the Gateway must not serve that Route's paths.
func holdBack(groups, last map[translate.GroupKey]*translate.Group, held map[string][]string) map[translate.GroupKey]*translate.Group {
	if len(held) == 0 {
		return groups
	}
	out := make(map[translate.GroupKey]*translate.Group, len(groups))
	for k, g := range groups {
		if _, h := held[k.Gateway]; !h {
			out[k] = g
		}
	}
	for k, g := range last {
		if _, h := held[k.Gateway]; h {
			out[k] = g
		}
	}
	return out
}

// Commit records r (built from eps) as the last published state.
func (b *Builder) Commit(r *Result, eps registry.Snapshot) {
	if !sameGroups(b.groups, r.Groups) {
		if r.eds != nil {
			<-r.eds.done
			b.edsOf, b.zoneOf = r.eds.of, r.eds.zone
		} else {
			b.edsOf, b.zoneOf = edsIndex(r.Groups)
		}
	}
	b.groups, b.endpoints, b.clas = r.Groups, eps, r.CLAs
}

// allEndpoints builds the CLA of every EDS name the groups ask for, reusing
// the previous one where the name and the Service's endpoints are unchanged
// and taking the one built early (earlyCLAs) where it was built for the
// same Service and zone.
func (b *Builder) allEndpoints(groups map[translate.GroupKey]*translate.Group, eps registry.Snapshot, early map[string]*claJob) (map[string]*endpointv3.ClusterLoadAssignment, map[types.Resource]uint64, error) {
	out := make(map[string]*endpointv3.ClusterLoadAssignment, len(b.clas))
	hashes := make(map[types.Resource]uint64, len(early))
	var todo []claJob
	for _, g := range groups {
		for eds, svc := range g.EDS {
			if _, done := out[eds]; done {
				continue
			}
			if prev, ok := b.kept(eds, svc, eps); ok {
				out[eds] = prev
				continue
			}
			zone := g.LocalZone[eds]
			if j := early[eds]; j != nil && j.cla != nil && j.svc == svc && j.zone == zone {
				out[eds], hashes[j.cla] = j.cla, j.hash
				continue
			}
			out[eds] = nil // claimed: built below
			todo = append(todo, claJob{eds: eds, svc: svc, zone: zone, eps: eps[svc]})
		}
	}
	if err := buildCLAs(todo); err != nil {
		return nil, nil, err
	}
	for _, j := range todo {
		out[j.eds] = j.cla
		hashes[j.cla] = j.hash
	}
	return out, hashes, nil
}

// claJob is one ClusterLoadAssignment to build.
type claJob struct {
	eds, svc, zone string
	eps            []registry.Endpoint
	cla            *endpointv3.ClusterLoadAssignment
	hash           uint64 // cla's translate.ContentHash
}

// clasBuilt counts the CLAs buildCLAs was given (tests).
var clasBuilt atomic.Int64

// parallelCLAMin is the number of CLAs below which spreading the work over
// goroutines costs more than it saves.
const parallelCLAMin = 64

// buildCLAs builds every job's CLA, on up to GOMAXPROCS goroutines when
// there are many: a full build makes one per Service, and it is the one
// part of a build that would otherwise leave the other cores idle. The
// error returned is that of the first failing job in todo's order.
func buildCLAs(todo []claJob) error {
	clasBuilt.Add(int64(len(todo)))
	workers := parallel.Workers(len(todo), parallelCLAMin)
	bufs := make([][]byte, workers) // each goroutine's encoding scratch
	return parallel.For(workers, len(todo), func(w, i int) error {
		j := &todo[i]
		var err error
		j.cla, j.hash, err = buildCLA(j.eds, j.svc, j.zone, j.eps, &bufs[w])
		return err
	})
}

// changedEndpoints copies the previous CLAs and rebuilds only those of the
// Services whose endpoints differ.
func (b *Builder) changedEndpoints(eps registry.Snapshot) (map[string]*endpointv3.ClusterLoadAssignment, map[types.Resource]uint64, error) {
	out := maps.Clone(b.clas) // a table copy, cheaper than re-inserting every name
	if out == nil {
		out = map[string]*endpointv3.ClusterLoadAssignment{}
	}
	hashes := map[types.Resource]uint64{}
	var buf []byte
	for svc, names := range b.edsOf {
		if registry.Equal(b.endpoints[svc], eps[svc]) {
			continue
		}
		for _, eds := range names {
			cla, h, err := buildCLA(eds, svc, b.zoneOf[eds], eps[svc], &buf)
			if err != nil {
				return nil, nil, err
			}
			out[eds] = cla
			hashes[cla] = h
		}
	}
	return out, hashes, nil
}

// buildCLA builds and hashes one CLA; buf is scratch for its encoding.
func buildCLA(eds, svc, zone string, eps []registry.Endpoint, buf *[]byte) (*endpointv3.ClusterLoadAssignment, uint64, error) {
	cla, h := translate.HashedEndpoints(eds, zone, eps, buf)
	if err := cla.ValidateAll(); err != nil {
		return nil, 0, fmt.Errorf("endpoints of Service %q: %w", svc, err)
	}
	return cla, h, nil
}

// edsIndex maps each Service to the EDS names that carry it, and each EDS
// name with a local zone to that zone (the zone ends the name, so every
// group asking for a name agrees on it).
func edsIndex(groups map[translate.GroupKey]*translate.Group) (map[string][]string, map[string]string) {
	n := 0
	for _, g := range groups {
		n = max(n, len(g.EDS))
	}
	idx := make(map[string][]string, n)
	zones := map[string]string{}
	seen := make(map[string]bool, n)
	for _, g := range groups {
		for eds, svc := range g.EDS {
			if !seen[eds] {
				seen[eds] = true
				idx[svc] = append(idx[svc], eds)
			}
		}
		for eds, z := range g.LocalZone {
			zones[eds] = z
		}
	}
	return idx, zones
}

func sameGroups(a, b map[translate.GroupKey]*translate.Group) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
