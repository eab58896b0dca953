package consul

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// key identifies one Consul query; several policy Services may share it.
type key struct {
	service string
	tags    string // sorted, "\x00"-joined
	dc      string
}

func keyOf(d policy.ConsulDiscovery) key {
	tags := slices.Clone(d.Tags)
	slices.Sort(tags)
	tags = slices.Compact(tags)
	return key{service: d.Service, tags: strings.Join(tags, "\x00"), dc: d.Datacenter}
}

func (k key) tagList() []string {
	if k.tags == "" {
		return nil
	}
	return strings.Split(k.tags, "\x00")
}

// watch is the state of one key.
type watch struct {
	synced    bool // one successful read so far
	index     uint64
	endpoints []registry.Endpoint // immutable once stored
	skipped   int
	failures  int
	lastErr   string
	lastErrAt time.Time
	retry     *time.Timer
}

// Source watches the Consul services referenced by the policy. Create it with
// New, tell it what to watch with SetPolicy or SetServices, run it with Run.
type Source struct {
	cfg    Config
	client *api.Client
	addr   string

	mu       sync.Mutex
	cond     *sync.Cond // signals dirty work to the workers
	ctx      context.Context
	closed   bool
	byPolicy map[string]key // policy Service name -> key
	watches  map[key]*watch
	queue    []key // dirty keys, FIFO
	queued   map[key]bool
	inflight map[key]bool // being read; a mark while in flight re-queues it
	again    map[key]bool
	dcs      map[string]*detector
	emitted  registry.Snapshot // last snapshot given to OnUpdate
	lastOK   time.Time

	emit *registry.Emitter
}

// New returns a Source for the agent cfg.Address. It does not contact Consul:
// a wrong address or token shows up as errors in Status, never here.
func New(cfg Config) (*Source, error) {
	cfg.defaults()
	cl, addr, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	s := &Source{
		cfg: cfg, client: cl, addr: addr,
		byPolicy: map[string]key{}, watches: map[key]*watch{},
		queued: map[key]bool{}, inflight: map[key]bool{}, again: map[key]bool{},
		dcs: map[string]*detector{}, emitted: registry.Snapshot{},
		emit: registry.NewEmitter(),
	}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

// Address is the agent address in use.
func (s *Source) Address() string { return s.addr }

// ServicesOf returns the policy Services of snap that use Consul discovery.
func ServicesOf(snap *policy.Snapshot) map[string]policy.ConsulDiscovery {
	out := map[string]policy.ConsulDiscovery{}
	if snap == nil {
		return out
	}
	for name, svc := range snap.Services {
		if c := svc.Spec.Discovery.Consul; c != nil {
			out[name] = *c
		}
	}
	return out
}

// SetPolicy watches what snap references (see SetServices).
func (s *Source) SetPolicy(snap *policy.Snapshot) { s.SetServices(ServicesOf(snap)) }

// SetServices replaces the set of watched services: policy Service name ->
// its Consul query. New queries are read at once; queries no longer
// referenced stop (and their Services leave the snapshot).
func (s *Source) SetServices(services map[string]policy.ConsulDiscovery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byPolicy = make(map[string]key, len(services))
	live := map[key]bool{}
	for name, d := range services {
		k := keyOf(d)
		s.byPolicy[name] = k
		live[k] = true
		if _, ok := s.watches[k]; !ok {
			s.watches[k] = &watch{}
			s.markLocked(k)
		}
	}
	for k, w := range s.watches {
		if !live[k] {
			if w.retry != nil {
				w.retry.Stop()
			}
			delete(s.watches, k)
		}
	}
	s.reconcileDetectorsLocked()
	s.emit.Kick()
}

// Synced reports whether every watched query has had one successful read.
func (s *Source) Synced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.watches {
		if !w.synced {
			return false
		}
	}
	return true
}

// Run reads and watches until ctx ends.
func (s *Source) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.reconcileDetectorsLocked()
	s.mu.Unlock()

	var wg sync.WaitGroup
	for i := 0; i < s.cfg.Workers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.worker(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.emit.Run(ctx, s.nextSnapshot, s.cfg.OnUpdate) }()
	resync := make(<-chan time.Time)
	if s.cfg.Resync > 0 {
		t := time.NewTicker(s.cfg.Resync)
		defer t.Stop()
		resync = t.C
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-resync:
			s.markAll("", true)
		}
	}
	s.mu.Lock()
	s.closed = true
	for dc, d := range s.dcs {
		d.cancel()
		delete(s.dcs, dc)
	}
	for _, w := range s.watches {
		if w.retry != nil {
			w.retry.Stop()
		}
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	wg.Wait()
}

// markLocked queues k for a read (once, however often it is marked).
func (s *Source) markLocked(k key) {
	if s.closed {
		return
	}
	if s.inflight[k] {
		s.again[k] = true
		return
	}
	if s.queued[k] {
		return
	}
	s.queued[k] = true
	s.queue = append(s.queue, k)
	s.cond.Signal()
}

// markAll queues every watch of datacenter dc (all datacenters if any).
func (s *Source) markAll(dc string, any bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.watches {
		if any || k.dc == dc {
			s.markLocked(k)
		}
	}
}

// markServices queues the watches of the named Consul services in dc.
func (s *Source) markServices(dc string, names map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.watches {
		if k.dc == dc && names[k.service] {
			s.markLocked(k)
		}
	}
}

func (s *Source) worker(ctx context.Context) {
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		k := s.queue[0]
		s.queue = s.queue[1:]
		delete(s.queued, k)
		if _, ok := s.watches[k]; !ok {
			s.mu.Unlock()
			continue
		}
		s.inflight[k] = true
		s.mu.Unlock()

		entries, idx, err := s.read(ctx, k)

		s.mu.Lock()
		delete(s.inflight, k)
		if s.again[k] {
			delete(s.again, k)
			s.markLocked(k)
		}
		s.applyLocked(k, entries, idx, err)
		s.mu.Unlock()
	}
}

func (s *Source) read(ctx context.Context, k key) ([]*api.ServiceEntry, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	q := (&api.QueryOptions{Datacenter: k.dc}).WithContext(ctx)
	entries, meta, err := s.client.Health().ServiceMultipleTags(k.service, k.tagList(), true, q)
	if err != nil {
		return nil, 0, err
	}
	return entries, meta.LastIndex, nil
}

// applyLocked stores the outcome of a read. A failed read keeps the last
// endpoints (and retries with backoff); a successful one replaces them.
func (s *Source) applyLocked(k key, entries []*api.ServiceEntry, idx uint64, err error) {
	w, ok := s.watches[k]
	if !ok || s.closed {
		return
	}
	if err != nil {
		if s.ctx != nil && s.ctx.Err() != nil {
			return
		}
		w.lastErr = describe(err, s.addr)
		w.lastErrAt = time.Now()
		delay := backoff(w.failures, s.cfg.BackoffBase, s.cfg.BackoffMax)
		w.failures++
		if w.retry != nil {
			w.retry.Stop()
		}
		w.retry = time.AfterFunc(delay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.watches[k] == w {
				s.markLocked(k)
			}
		})
		return
	}
	s.lastOK = time.Now()
	w.failures, w.lastErr, w.lastErrAt = 0, "", time.Time{}
	// No shortcut on an unchanged index: a restarted dev agent reuses low
	// indexes, so equal indexes do not prove equal data. Comparing the
	// endpoints is cheap.
	eps, skipped := endpointsOf(entries)
	changed := !w.synced || !registry.Equal(eps, w.endpoints)
	w.synced, w.index, w.endpoints, w.skipped = true, idx, eps, skipped
	if changed {
		s.emit.Kick()
	}
}

// nextSnapshot builds the snapshot to report and whether it differs from the
// last one reported. A policy Service whose query has not been read yet keeps
// what it had (last known good across a tag or datacenter change).
func (s *Source) nextSnapshot() (registry.Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(registry.Snapshot, len(s.byPolicy))
	for name, k := range s.byPolicy {
		if w := s.watches[k]; w != nil && w.synced {
			out[name] = w.endpoints
		} else if prev, ok := s.emitted[name]; ok {
			out[name] = prev
		}
	}
	if out.Equal(s.emitted) {
		return nil, false
	}
	s.emitted = out
	return maps.Clone(out), true
}
