package translate

import (
	"sync"

	"github.com/gatehouse-dev/gatehouse/pkg/parallel"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Memo carries what one Translate built over to the next, keyed by the
// inputs that made it, so that a policy edit rebuilds only what it touched
// (issue 10, item 5). Translate stays a pure function of its input: a
// resource comes from the memo only when the inputs it was built from are
// equal (the same pointer, or the same content digest, objdigest.go) to
// this call's, so the output is the same with
// or without a Memo (TestMemoMatchesFreshTranslate), and goldens do not
// change. What is reused is the very proto, so the publisher, which knows a
// resource by pointer, keeps its hash (and the encoding derived from it)
// instead of marshalling it again, and Check does not check it again.
//
// Kept per built unit:
//   - a Service's clusters (both client kinds) and the content hash of the
//     Envoy one, by (Service, zone): inputs the Service object and
//     Options.SystemCAFile;
//   - a Route's protos (both client kinds), by Route name: inputs the
//     Route object and the Services its backends name (hash policy,
//     streaming and WebSocket come from them);
//   - which of those protos passed Check's per-resource rules (pure:
//     ValidateAll, the walk for unshipped fields, the load-time rules),
//     by pointer and client kind. Rules across resources (references,
//     names, EDS) still run on every Check.
//
// Only what the last Translate used is kept, so the Memo stays as large as
// one policy. Inputs are compared with the objects of the previous call:
// like Translate itself, it relies on a policy snapshot not being modified
// once handed over (the loader builds a new one for every change). An
// object's digest is computed only when it is compared (never on a cold
// build) and kept with it, so each object is hashed at most once.
// A Memo may be shared by sequential calls only; Translate holds its lock.
type Memo struct {
	mu sync.Mutex
	// services are the Services of the last Translate; same (built by
	// sameServices at the start of each Translate) says which of this
	// call's are equal to them, each compared once however many Routes
	// and clusters use it.
	services map[string]memoService
	same     map[string]bool
	// svcDigests are the digests sameServices computed for this call's
	// Services, kept with them by keep.
	svcDigests map[string]objDigest
	clusters   map[clusterKey]memoCluster
	routes     map[string]memoRoute
	// checked holds the resources that passed Check's per-resource rules;
	// live the resources of the last generation (only those are recorded).
	ckMu    sync.Mutex
	checked map[checkKey]struct{}
	live    map[any]struct{}
	// keeping, while a Translate's keep runs beside its groups
	// (keepAsync), is closed when it is done; under ckMu.
	keeping chan struct{}
	// hits and misses count reuses in the last Translate (tests, figures).
	hits, misses int
}

type memoCluster struct {
	systemCA string
	bc       *builtCluster
}

type memoRoute struct {
	r  *policy.Route
	d  objDigest // r's digest, if it was computed
	br *builtRoute
}

type memoService struct {
	s *policy.Service
	d objDigest // s's digest, if it was computed
}

// sameObject reports whether cur has the content of prev, whose digest
// (if computed) is prevD; it returns cur's digest when it computed it.
func sameObject[T any](prev *T, prevD objDigest, cur *T) (bool, objDigest) {
	if prev == cur {
		return true, prevD
	}
	curD := digestOf(cur)
	if !prevD.ok {
		prevD = digestOf(prev)
	}
	return prevD.same(curD), curD
}

type checkKey struct {
	res   any // *clusterv3.Cluster or *routev3.Route
	envoy bool
}

// NewMemo returns an empty Memo.
func NewMemo() *Memo { return &Memo{} }

// Stats returns how many Routes and clusters the last Translate reused
// and built anew.
func (m *Memo) Stats() (hits, misses int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits, m.misses
}

// sameServices sets m.same: which of services are equal to the Service of
// the same name in the last Translate. A Service absent from either is
// not the same.
func (m *Memo) sameServices(services map[string]*policy.Service) {
	if m == nil {
		return
	}
	names := sortedKeys(services)
	same := make([]bool, len(names))
	digests := make([]objDigest, len(names))
	parallel.For(parallel.Workers(len(names), parallelMin), len(names), func(_, i int) error {
		if prev, ok := m.services[names[i]]; ok {
			same[i], digests[i] = sameObject(prev.s, prev.d, services[names[i]])
		}
		return nil
	})
	m.same = make(map[string]bool, len(names))
	m.svcDigests = make(map[string]objDigest, len(names))
	for i, n := range names {
		m.same[n] = same[i]
		m.svcDigests[n] = digests[i]
	}
}

// route returns the Route built last time from inputs equal to r's, or nil:
// the same Route (by content) whose backends' Services are the same. It
// also returns r's digest when it computed it, for keep.
func (m *Memo) route(r *policy.Route) (*builtRoute, objDigest) {
	if m == nil {
		return nil, objDigest{}
	}
	e, ok := m.routes[r.Name]
	if !ok {
		return nil, objDigest{}
	}
	same, d := sameObject(e.r, e.d, r)
	if !same {
		return nil, d
	}
	for _, b := range r.Spec.Backends {
		if !m.same[b.Service] {
			return nil, d
		}
	}
	return e.br, d
}

// cluster returns the clusters built last time from inputs equal to these,
// or nil.
func (m *Memo) cluster(k clusterKey, systemCA string) *builtCluster {
	if m == nil {
		return nil
	}
	e, ok := m.clusters[k]
	if !ok || e.systemCA != systemCA || !m.same[k.service] {
		return nil
	}
	return e.bc
}

// keep replaces the memo's content by what this Translate built, and
// forgets check results of resources no longer used.
func (m *Memo) keep(attached []*policy.Route, routes []*builtRoute, digests []objDigest, services map[string]*policy.Service, keys []clusterKey, clusters []*builtCluster, systemCA string, hits int) {
	m.routes = make(map[string]memoRoute, len(attached))
	m.clusters = make(map[clusterKey]memoCluster, len(keys))
	live := make(map[any]struct{}, 2*(len(routes)+len(clusters)))
	m.services = make(map[string]memoService, len(services))
	for n, s := range services {
		m.services[n] = memoService{s: s, d: m.svcDigests[n]}
	}
	m.same, m.svcDigests = nil, nil
	for i, r := range attached {
		m.routes[r.Name] = memoRoute{r: r, d: digests[i], br: routes[i]}
		live[routes[i].envoy] = struct{}{}
		if routes[i].grpc != nil {
			live[routes[i].grpc] = struct{}{}
		}
	}
	for i, k := range keys {
		m.clusters[k] = memoCluster{systemCA: systemCA, bc: clusters[i]}
		live[clusters[i].envoy] = struct{}{}
		live[clusters[i].grpc] = struct{}{}
	}
	m.ckMu.Lock()
	for k := range m.checked {
		if _, ok := live[k.res]; !ok {
			delete(m.checked, k)
		}
	}
	m.live = live
	m.ckMu.Unlock()
	m.hits, m.misses = hits, len(attached)+len(keys)-hits
}

// keepAsync runs keep and keepPrechecked on a goroutine of their own, so
// that the groups are built and checked meanwhile (about 0.9 ms of a full
// build's wall time at 1,000 Routes and Services, serial before). Nothing
// the groups read depends on it: newIndex, done, was the last reader of
// the generation keep replaces, and wasChecked's answer for a resource of
// this generation is the same before and after (keep forgets only
// resources that are not live, and adds prechecked ones, which
// Group.pre already answers for). passedAll, which records against the
// live set keep makes, waits for it; so does waitKept, which Translate
// calls before it returns.
func (m *Memo) keepAsync(pre *prechecked, keep func()) {
	done := make(chan struct{})
	m.ckMu.Lock()
	m.keeping = done
	m.ckMu.Unlock()
	go func() {
		defer close(done)
		keep()
		m.keepPrechecked(pre)
	}()
}

// waitKept waits for a keepAsync in progress (nil-safe).
func (m *Memo) waitKept() {
	if m == nil {
		return
	}
	m.ckMu.Lock()
	ch := m.keeping
	m.ckMu.Unlock()
	if ch != nil {
		<-ch
	}
}

// wasChecked reports whether res passed Check's per-resource rules for
// this client kind in an earlier Check.
func (m *Memo) wasChecked(res any, envoy bool) bool {
	if m == nil {
		return false
	}
	m.ckMu.Lock()
	defer m.ckMu.Unlock()
	_, ok := m.checked[checkKey{res, envoy}]
	return ok
}

// passed records that res passed Check's per-resource rules, if it is one
// of the memo's resources (others are not kept: the memo stays bounded).
func (m *Memo) passed(res any, envoy bool) {
	m.passedAll([]any{res}, envoy)
}

// passedAll is passed for each of rs, under one lock.
func (m *Memo) passedAll(rs []any, envoy bool) {
	if m == nil || len(rs) == 0 {
		return
	}
	m.waitKept()
	m.record(rs, envoy)
}

// record is passedAll once the live set is this generation's.
func (m *Memo) record(rs []any, envoy bool) {
	m.ckMu.Lock()
	defer m.ckMu.Unlock()
	if m.checked == nil {
		m.checked = make(map[checkKey]struct{}, len(rs))
	}
	for _, res := range rs {
		if _, ok := m.live[res]; ok {
			m.checked[checkKey{res, envoy}] = struct{}{}
		}
	}
}

// keepPrechecked records what newIndex found passing its own rules
// (precheck.go), so that the next Translate, reusing those protos, does
// not check them again. Called after keep: only live resources are kept.
func (m *Memo) keepPrechecked(pre *prechecked) {
	var envoy, grpc []any
	for r, bits := range pre.routes {
		if bits&precheckEnvoy != 0 {
			envoy = append(envoy, r)
		}
		if bits&precheckGRPC != 0 {
			grpc = append(grpc, r)
		}
	}
	for cl, bits := range pre.clusters {
		if bits&precheckEnvoy != 0 {
			envoy = append(envoy, cl)
		}
		if bits&precheckGRPC != 0 {
			grpc = append(grpc, cl)
		}
	}
	m.record(envoy, true)
	m.record(grpc, false)
}
