// Package server is gatehouse's xDS side: it assembles per-group snapshots
// with content-hash versions (Publisher), serves them over ADS with
// go-control-plane (Server), and tracks what every connected proxy was sent,
// acknowledged and rejected.
package server

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/pkg/parallel"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// PublisherOptions configure a Publisher. The zero value is usable.
type PublisherOptions struct {
	// Registerer receives gatehouse_snapshot_publish_seconds; nil registers
	// nothing.
	Registerer prometheus.Registerer
	// Logger receives go-control-plane's cache logs; nil discards them.
	Logger log.Logger
}

// Publisher owns the snapshot caches and turns translated groups into
// snapshots. Resources handed to Publish must not be modified afterwards:
// the caches serve them concurrently, and an unchanged pointer is taken to
// mean unchanged content. The same holds for the Groups themselves (as
// Translate returns them): a Group published again under the same pointer
// is taken to list the same EDS names.
type Publisher struct {
	mu      sync.Mutex
	groups  map[translate.GroupKey]*groupState
	scratch [numTypes][]byte // typeVersion buffers, one per type, for work done under mu alone
	// groupScratch are typeVersion buffers for the groups assembled side
	// by side, one set per goroutine.
	groupScratch []*[numTypes][]byte

	// Envoy groups use an ADS-mode cache: it sends CDS, EDS, LDS, RDS in
	// order after each SetSnapshot (make-before-break). Proxyless gRPC
	// groups cannot: grpc-go asks for the listeners, routes and clusters it
	// uses by name, and an ADS-mode cache withholds any response whose
	// request does not name every resource of that type in the snapshot.
	envoy cache.SnapshotCache
	grpc  cache.SnapshotCache
	mux   *cache.MuxCache
	// grpcShare holds the proxyless groups' shared encodings (grpcshare.go).
	grpcShare *grpcShared
	// sotw passes the Envoy cache's state-of-the-world responses to the
	// streams with shared encodings (sotwshare.go).
	sotw *sharedSotW
	// delta serves Envoy groups over delta ADS (deltahub.go); the stock
	// Envoy cache keeps serving them over state of the world.
	delta *deltaHub

	// pending are the Envoy groups served their bridge snapshot while the
	// final one (p.groups[k]) waits for their state-of-the-world streams
	// (sotwhold.go); holds decides when. Without a Server (holds nil)
	// nothing is waited for.
	pending map[translate.GroupKey]*pendingFinal
	holds   *bridgeHolds

	// removed hears of groups Remove drops (the server ends their
	// state-of-the-world streams: orphans.go).
	removed []func(...translate.GroupKey)

	publishSeconds prometheus.Histogram

	// known is read on every stream request, without taking mu (which
	// Publish holds while answering watches).
	known atomic.Pointer[knownGroups]
	// held is the set of Gateways the controller holds back (SetHeld).
	held atomic.Pointer[map[string]bool]
}

// SetHeld records the Gateways whose configuration is held back
// (policy.Snapshot.Held), so that a proxy of one that has no snapshot is
// told why instead of "no Gateway named".
func (p *Publisher) SetHeld(gateways []string) {
	m := make(map[string]bool, len(gateways))
	for _, g := range gateways {
		m[g] = true
	}
	p.held.Store(&m)
}

// knownGroups is the set of published groups, replaced on every change.
type knownGroups struct {
	keys     map[translate.GroupKey]struct{}
	gateways map[string]struct{}
}

// setKnown rebuilds the known set from p.groups; p.mu must be held.
func (p *Publisher) setKnown() {
	k := &knownGroups{keys: make(map[translate.GroupKey]struct{}, len(p.groups)), gateways: map[string]struct{}{}}
	for key := range p.groups {
		k.keys[key] = struct{}{}
		k.gateways[key.Gateway] = struct{}{}
	}
	p.known.Store(k)
}

// unknownReason says why a node's group has no snapshot, or "" if it has one.
func (p *Publisher) unknownReason(k translate.GroupKey) string {
	known := p.known.Load()
	if _, ok := known.keys[k]; ok {
		return ""
	}
	if h := p.held.Load(); h != nil && (*h)[k.Gateway] {
		return fmt.Sprintf("Gateway %q is held back: a Route of it cannot be served (see gatehouse status)", k.Gateway)
	}
	if _, ok := known.gateways[k.Gateway]; ok {
		return fmt.Sprintf("no snapshot for group %s", k)
	}
	return fmt.Sprintf("no Gateway named %q", k.Gateway)
}

// groupState is what one group last published.
type groupState struct {
	// group is the Group this state was built from. Groups are immutable,
	// so the same pointer means the same EDS names.
	group *translate.Group
	types [numTypes]typeState
	refs  groupRefs
	snap  *cache.Snapshot
	// served wraps snap for the caches (see servedSnapshot).
	served *servedSnapshot
	// unsettled: a later SetSnapshot failed, and the cache, which stores a
	// snapshot before answering watches (go-control-plane
	// pkg/cache/v3/simple.go, SetSnapshot), may hold that one instead of
	// snap. The next Publish sets the group even if nothing changed.
	unsettled bool
}

// servedSnapshot is what the caches serve: the snapshot, plus each type's
// name -> resource map prebuilt. go-control-plane's delta code asks for
// that map on every delta response and every ACK of every stream
// (pkg/cache/v3/simple.go, respondDelta), and Snapshot.GetResources builds
// a new one on each call (pkg/cache/v3/snapshot.go): with 1,000 streams x
// 1,000 CLAs that was a quarter of the CPU of an endpoint change. The maps
// are read only.
type servedSnapshot struct {
	*cache.Snapshot
	plain map[string]map[string]types.Resource // by type URL
}

func (s *servedSnapshot) GetResources(typeURL string) map[string]types.Resource {
	return s.plain[typeURL]
}

// PublishStats says what one Publish changed.
type PublishStats struct {
	// Changed has an entry for every group whose snapshot was set: the
	// short type names (clusters, endpoints, listeners, routes, secrets)
	// whose version changed, in ADS order. A new group lists every type;
	// a group set again, unchanged, after a failed SetSnapshot (its proxies
	// may have been sent the failed one) lists "resent".
	Changed map[translate.GroupKey][]string
	// Unchanged counts groups whose content did not change (no SetSnapshot).
	Unchanged int
	// Absent lists, sorted, groups published before but missing from this
	// call; they keep serving their last snapshot until Remove.
	Absent []translate.GroupKey
	// Duration is the time Publish took, SetSnapshot included.
	Duration time.Duration
}

// NewPublisher returns a Publisher with empty caches.
func NewPublisher(opts PublisherOptions) (*Publisher, error) {
	logger := opts.Logger
	if logger == nil {
		logger = log.NewDefaultLogger() // a no-op logger
	}
	p := &Publisher{
		groups:    map[translate.GroupKey]*groupState{},
		pending:   map[translate.GroupKey]*pendingFinal{},
		envoy:     cache.NewSnapshotCache(true, nodeHash{}, logger),
		grpc:      cache.NewSnapshotCache(false, nodeHash{}, logger),
		delta:     newDeltaHub(),
		grpcShare: newGRPCShared(),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_snapshot_publish_seconds",
			Help:    "Time to assemble and set the xDS snapshots of one Publish.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2.5, 12), // 50µs .. ~3s
		}),
	}
	p.setKnown()
	p.sotw = newSharedSotW(p.envoy, p.delta)
	p.mux = &cache.MuxCache{
		Classify:      func(r *cache.Request) string { return string(clientKind(r.GetNode())) },
		ClassifyDelta: func(r *cache.DeltaRequest) string { return string(clientKind(r.GetNode())) },
		Caches: map[string]cache.Cache{
			string(translate.ClientEnvoy): p.sotw,
			string(translate.ClientGRPC):  p.grpc,
		},
	}
	if opts.Registerer != nil {
		encodings := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_xds_resource_encodings_total",
			Help: "Resources encoded for xDS responses (once per resource and snapshot, shared by every stream of a group).",
		}, func() float64 { return float64(resourceEncodings.Load()) })
		for _, c := range []prometheus.Collector{p.publishSeconds, encodings} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register publish metrics: %w", err)
			}
		}
	}
	return p, nil
}

func (p *Publisher) cacheFor(k translate.ClientKind) cache.SnapshotCache {
	if k == translate.ClientEnvoy {
		return p.envoy
	}
	return p.grpc
}

// Publish assembles and sets the snapshot of every group in groups, using
// clas for the EDS names each group lists. It checks every group before
// setting any: on error nothing is published and the last snapshots stay.
// Groups absent from groups are left as they are (see Remove). Only types
// whose content changed get a new version; a group with no change is not
// touched, so its proxies see nothing.
//
// claHashes (may be nil) holds the content hashes (translate.ContentHash)
// of CLAs in clas that the caller computed where it built them (the
// controller, on its CLA goroutines: translate.HashedEndpoints); the
// publisher trusts them and hashes only the other CLAs that changed.
func (p *Publisher) Publish(ctx context.Context, groups map[translate.GroupKey]*translate.Group, clas map[string]*endpointv3.ClusterLoadAssignment, claHashes map[types.Resource]uint64) (PublishStats, error) {
	start := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()

	keys := make([]translate.GroupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sortKeys(keys)

	stats := PublishStats{Changed: map[translate.GroupKey][]string{}}
	prevs := make([]*groupState, len(keys)) // nil for a new group
	for i, k := range keys {
		if err := validKey(k); err != nil {
			return stats, err
		}
		if groups[k] == nil {
			return stats, fmt.Errorf("group %s: nil", k)
		}
		prevs[i] = p.groups[k]
	}
	// Endpoints first, one group after another: both client kinds of a
	// Gateway ask for the same CLAs, and the second group takes the first
	// one's state (publishMemo).
	memo := newPublishMemo()
	memo.known = claHashes
	eds := make([]edsStep, len(keys))
	for i, k := range keys {
		eds[i] = p.assembleEDS(prevs[i], groups[k], clas, memo)
	}
	// Then the other types, references and snapshot of each group, the
	// groups side by side: on a full build the two groups of a Gateway
	// each took about 2.3 ms at 1.3 cores, one after the other.
	workers := parallel.Workers(len(keys), 1)
	for len(p.groupScratch) < workers {
		p.groupScratch = append(p.groupScratch, new([numTypes][]byte))
	}
	updates := make([]update, len(keys))
	err := parallel.For(workers, len(keys), func(w, i int) error {
		k, prev := keys[i], prevs[i]
		next, changed, err := p.assemble(k, prev, groups[k], eds[i], p.groupScratch[w])
		if err != nil {
			return fmt.Errorf("group %s: %w", k, err)
		}
		if len(changed) == 0 && prev != nil && prev.unsettled {
			changed = []string{"resent"}
		}
		updates[i] = update{key: k, state: next, changed: changed}
		return nil
	})
	if err != nil {
		return stats, err
	}
	added := false
	defer func() {
		if added {
			p.setKnown()
		}
	}()
	for _, u := range updates {
		added = added || p.groups[u.key] == nil
		if len(u.changed) == 0 {
			p.groups[u.key] = u.state
			stats.Unchanged++
			continue
		}
		var err error
		if u.key.Client == translate.ClientEnvoy {
			err = p.setEnvoy(ctx, u.key, u.state)
		} else {
			// Before the cache answers the watches with it, so that the
			// streams find the new encodings (grpcshare.go).
			p.grpcShare.published(u.key, u.state)
			err = p.grpc.SetSnapshot(ctx, u.key.String(), u.state.served)
		}
		if err != nil {
			// SetSnapshot fails only when ctx ends while a watch is being
			// answered; the groups set so far are consistent on their own.
			if prev := p.groups[u.key]; prev != nil {
				prev.unsettled = true
			}
			return stats, fmt.Errorf("group %s: set snapshot: %w", u.key, err)
		}
		p.groups[u.key] = u.state
		stats.Changed[u.key] = u.changed
	}
	for k := range p.groups {
		if _, ok := groups[k]; !ok {
			stats.Absent = append(stats.Absent, k)
		}
	}
	sortKeys(stats.Absent)
	stats.Duration = time.Since(start)
	p.publishSeconds.Observe(stats.Duration.Seconds())
	return stats, nil
}

// pendingFinal is an Envoy group's final snapshot waiting for its bridge
// hold to end (sotwhold.go).
type pendingFinal struct {
	bridge *groupState // served meanwhile
	final  *groupState
	gen    uint64 // the hold's
}

// setEnvoy sets an Envoy group's next state. When next drops clusters the
// snapshot served has, the group is first set a bridge (bridge.go), and
// next only once the group's state-of-the-world streams answered the
// bridge's routes and listeners (sotwhold.go). Delta streams get next at
// once: they order removals per stream. p.mu must be held.
func (p *Publisher) setEnvoy(ctx context.Context, k translate.GroupKey, next *groupState) error {
	// Staged first: the cache's responses (forwarded by the streams at
	// any time) find its encodings and versions (sharedSotW.share).
	staged := p.delta.stage(k, &next.types)
	served := p.groups[k]
	if pf := p.pending[k]; pf != nil {
		served = pf.bridge // a bridge is served: its clusters may still be named
	}
	if b := bridgeState(served, next, &p.scratch[tClusters]); b != nil {
		err := p.envoy.SetSnapshot(ctx, k.String(), b.served)
		if err != nil {
			p.sotw.flush(k)
			if pf := p.pending[k]; pf != nil {
				pf.bridge = b // may be served: it has every cluster the old one had
			}
			return err
		}
		gen, ready := uint64(0), true
		if p.holds != nil {
			var want [len(holdTypes)]string
			for i, t := range holdTypes {
				want[i] = b.types[t].res.Version
			}
			gen, ready = p.holds.begin(k, want)
		}
		if !ready {
			p.pending[k] = &pendingFinal{bridge: b, final: next, gen: gen}
			p.delta.commit(k, staged)
			p.sotw.flush(k)
			return nil
		}
		p.sotw.flush(k)
	}
	if p.pending[k] != nil {
		delete(p.pending, k)
		p.holds.cancel(k)
	}
	err := p.envoy.SetSnapshot(ctx, k.String(), next.served)
	if err != nil {
		p.sotw.flush(k)
		return err
	}
	p.delta.commit(k, staged)
	p.sotw.flush(k)
	return nil
}

// finishBridge sets the final snapshot a bridge hold kept back, unless a
// later publish or Remove replaced it.
func (p *Publisher) finishBridge(k translate.GroupKey, gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pf := p.pending[k]
	if pf == nil || pf.gen != gen {
		return
	}
	delete(p.pending, k)
	// SetSnapshot blocks only on a stream channel that is full, which
	// one-shot watches rule out (sotwshare.go); the bound is a safety net.
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	err := p.envoy.SetSnapshot(ctx, k.String(), pf.final.served)
	p.sotw.flush(k)
	if err != nil && p.groups[k] == pf.final {
		pf.final.unsettled = true // the next Publish sets it again
	}
}

// finishTimeout bounds finishBridge's SetSnapshot.
const finishTimeout = 30 * time.Second

// setHolds has h decide when bridged groups get their final snapshot (the
// Server's streams); called once, by NewServer.
func (p *Publisher) setHolds(h *bridgeHolds) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h.finish = p.finishBridge
	p.holds = h
}

// update is a group's next state and what changed in it.
type update struct {
	key     translate.GroupKey
	state   *groupState
	changed []string
}

// edsStep is a group's next endpoints state (assembleEDS).
type edsStep struct {
	st      typeState
	changed bool
	err     error
}

// emptyGroupState is the previous state of a group published for the
// first time.
func emptyGroupState(scratch *[numTypes][]byte) *groupState {
	prev := &groupState{}
	for t := range numTypes {
		prev.types[t] = emptyState(&scratch[t])
	}
	return prev
}

// assembleEDS builds a group's next endpoints state; memo shares the
// states and hashes of the groups assembled before it. p.mu must be held;
// groups are taken one after another.
func (p *Publisher) assembleEDS(prev *groupState, g *translate.Group, clas map[string]*endpointv3.ClusterLoadAssignment, memo *publishMemo) edsStep {
	if prev == nil {
		prev = emptyGroupState(&p.scratch)
	}
	var e edsStep
	e.st, e.changed, e.err = prev.types[tEndpoints].fromEDS(g.EDS, prev.group == g, clas, &p.scratch[tEndpoints], memo)
	return e
}

// assemble builds a group's next state from its previous one (nil for a
// new group) and its next endpoints state. changed is empty when no
// type's content changed. It reads only its arguments and writes only
// scratch, so groups are assembled side by side.
func (p *Publisher) assemble(k translate.GroupKey, prev *groupState, g *translate.Group, eds edsStep, scratch *[numTypes][]byte) (*groupState, []string, error) {
	isNew := prev == nil
	if isNew {
		prev = emptyGroupState(scratch)
	}
	next := &groupState{group: g, refs: prev.refs}
	var (
		changed []string
		moved   [numTypes]bool // resources of that type are not the same pointers as before
		chg     [numTypes]bool
		errs    [numTypes]error
	)
	next.types[tEndpoints], chg[tEndpoints], errs[tEndpoints] = eds.st, eds.changed, eds.err
	// Types are assembled side by side when several moved: a full build
	// hashes a few large route tables, each a single marshal that would
	// otherwise hold up the parallel hashing of the many clusters and CLAs.
	// Each type has its own scratch buffer.
	build := func(t typeIdx) {
		old := &prev.types[t]
		next.types[t], chg[t], errs[t] = old.fromSlice(groupSlice(g, t), &scratch[t], g.Hashes)
	}
	var work []typeIdx
	for t := range numTypes {
		if t == tEndpoints {
			continue // eds
		}
		if prev.types[t].samePointers(groupSlice(g, t)) {
			next.types[t] = prev.types[t] // what fromSlice returns, without a goroutine
			continue
		}
		work = append(work, t)
	}
	var wg sync.WaitGroup
	for i, t := range work {
		if i == len(work)-1 {
			build(t) // the last on this goroutine
			continue
		}
		wg.Go(func() { build(t) })
	}
	wg.Wait()
	for t := range numTypes {
		if errs[t] != nil {
			return nil, nil, fmt.Errorf("%s: %w", typeNames[t], errs[t])
		}
		moved[t] = !prev.types[t].samePointers(next.types[t].items)
		if chg[t] || isNew {
			changed = append(changed, typeNames[t])
		}
	}
	if len(changed) == 0 {
		// Same content, perhaps under new pointers: keep the snapshot and
		// the references, and remember the pointers for the fast path.
		next.snap, next.served = prev.snap, prev.served
		return next, nil, nil
	}
	// References only need checking when something other than endpoint
	// content moved; an endpoint-only change skips this.
	check := isNew || moved[tListeners] || moved[tRoutes] || moved[tClusters] || moved[tSecrets] ||
		!slices.Equal(prev.types[tEndpoints].names, next.types[tEndpoints].names)
	if check {
		if err := next.refs.refresh(&next.types, moved, isNew); err != nil {
			return nil, nil, err
		}
		if err := checkRefs(k.Client, &next.types, &next.refs); err != nil {
			return nil, nil, fmt.Errorf("reference check: %w", err)
		}
	}
	next.buildSnapshot()
	return next, changed, nil
}

// buildSnapshot sets gs.snap and gs.served from gs.types.
func (gs *groupState) buildSnapshot() {
	gs.snap = &cache.Snapshot{VersionMap: make(map[string]map[string]string, numTypes)}
	gs.served = &servedSnapshot{Snapshot: gs.snap, plain: make(map[string]map[string]types.Resource, numTypes)}
	for t := range numTypes {
		gs.snap.Resources[responseTypes[t]] = gs.types[t].res
		gs.snap.VersionMap[typeURLs[t]] = gs.types[t].versions
		gs.served.plain[typeURLs[t]] = gs.types[t].plain
	}
}

// groupSlice returns the group's resources of a slice-backed type.
func groupSlice(g *translate.Group, t typeIdx) []types.Resource {
	switch t {
	case tListeners:
		return g.Listeners
	case tRoutes:
		return g.Routes
	case tClusters:
		return g.Clusters
	case tSecrets:
		return g.Secrets
	}
	return nil
}

// Remove clears the snapshots of the given groups (a deleted Gateway).
// Their proxies keep the configuration they have (Envoy keeps its last good
// config) and get nothing new until a group of that key is published again.
func (p *Publisher) Remove(keys ...translate.GroupKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		delete(p.groups, k)
		if p.pending[k] != nil {
			delete(p.pending, k)
			p.holds.cancel(k)
		}
		p.cacheFor(k.Client).ClearSnapshot(k.String())
		if k.Client == translate.ClientEnvoy {
			p.delta.remove(k)
		} else {
			p.grpcShare.removed(k)
		}
	}
	p.setKnown()
	for _, f := range p.removed {
		f(keys...)
	}
}

// onRemove registers f to hear of the groups Remove drops, after their
// snapshots are gone.
func (p *Publisher) onRemove(f func(...translate.GroupKey)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removed = append(p.removed, f)
}

// Has reports whether a snapshot is published for the group.
func (p *Publisher) Has(k translate.GroupKey) bool {
	_, ok := p.known.Load().keys[k]
	return ok
}

// Versions returns the published version of every type of a group, by
// short type name.
func (p *Publisher) Versions(k translate.GroupKey) (map[string]string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.groups[k]
	if g == nil {
		return nil, false
	}
	out := make(map[string]string, numTypes)
	for t := range numTypes {
		out[typeNames[t]] = g.types[t].res.Version
	}
	return out, true
}

// Snapshot returns the snapshot last published for a group. An Envoy
// group's state-of-the-world streams may still be served its bridge, the
// same with the clusters it dropped still in CDS (sotwhold.go).
func (p *Publisher) Snapshot(k translate.GroupKey) (*cache.Snapshot, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.groups[k]
	if g == nil {
		return nil, false
	}
	return g.snap, true
}

// Bridge returns the bridge snapshot an Envoy group's state-of-the-world
// streams are served while its hold lasts (sotwhold.go): the published
// snapshot plus the clusters it dropped that a stream's routes may still
// name. ok is false when no hold is on.
func (p *Publisher) Bridge(k translate.GroupKey) (*cache.Snapshot, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pf := p.pending[k]
	if pf == nil {
		return nil, false
	}
	return pf.bridge.snap, true
}

// forgetIfUnpublished drops the cache's per-node status of a key that has
// no published group (a proxy that named an unknown Gateway), so that
// clients naming arbitrary gateways do not grow the cache for good. The
// caller ensures no stream of that key is still open.
func (p *Publisher) forgetIfUnpublished(k translate.GroupKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.groups[k] == nil {
		p.cacheFor(k.Client).ClearSnapshot(k.String())
		if k.Client != translate.ClientEnvoy {
			p.grpcShare.removed(k)
		}
	}
}

func validKey(k translate.GroupKey) error {
	if k.Gateway == "" {
		return fmt.Errorf("group %s: empty gateway name", k)
	}
	if k.Client != translate.ClientEnvoy && k.Client != translate.ClientGRPC {
		return fmt.Errorf("group %s: unknown client kind %q", k, k.Client)
	}
	return nil
}

func sortKeys(keys []translate.GroupKey) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Gateway != keys[j].Gateway {
			return keys[i].Gateway < keys[j].Gateway
		}
		return keys[i].Client < keys[j].Client
	})
}
