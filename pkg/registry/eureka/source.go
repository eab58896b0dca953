package eureka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// Source polls Eureka servers for the instances of the applications the
// policy references. Create it with New, tell it what to watch with
// SetPolicy or SetServices, run it with Run.
type Source struct {
	cfg Config

	mu       sync.Mutex
	byPolicy map[string]target
	mirror   mirror
	haveFull bool // a full fetch succeeded once: synced
	needFull bool // the next poll fetches everything (first poll, failed poll, new server)
	server   int  // index of the server that answered last
	up       bool
	lastOK   time.Time
	lastErr  string
	errAt    time.Time
	hash     string // the server's apps__hashcode at the last fetch
	stats    Stats
	emitted  registry.Snapshot
	counts   map[string]counts

	emit   *registry.Emitter
	pollCh chan struct{}
}

// Stats counts fetches, for status and tests.
type Stats struct {
	Full           int `json:"full_fetches"`
	Delta          int `json:"delta_fetches"`
	HashMismatches int `json:"hash_mismatches"` // deltas that left the mirror at another hash code: a full fetch followed
	Failovers      int `json:"failovers"`       // fetches answered by another server than the last one
	Errors         int `json:"errors"`          // failed requests, any server
}

// New returns a Source. It contacts no server until a policy Service uses
// Eureka.
func New(cfg Config) *Source {
	cfg.defaults()
	return &Source{
		cfg: cfg, byPolicy: map[string]target{}, mirror: mirror{}, needFull: true,
		emitted: registry.Snapshot{}, counts: map[string]counts{},
		emit: registry.NewEmitter(), pollCh: make(chan struct{}, 1),
	}
}

// Name is the source's label in gatehouse_registry_up and logs.
func (s *Source) Name() string { return "eureka" }

// Service is what one policy Service reads from Eureka.
type Service struct {
	policy.EurekaDiscovery
	// TLS: the Service has spec.tls, so the instances' securePort is used.
	TLS bool
}

// ServicesOf returns the policy Services of snap that use Eureka.
func ServicesOf(snap *policy.Snapshot) map[string]Service {
	out := map[string]Service{}
	if snap == nil {
		return out
	}
	for name, svc := range snap.Services {
		if e := svc.Spec.Discovery.Eureka; e != nil {
			out[name] = Service{EurekaDiscovery: *e, TLS: svc.Spec.TLS != nil}
		}
	}
	return out
}

// SetPolicy watches what snap references (see SetServices).
func (s *Source) SetPolicy(snap *policy.Snapshot) { s.SetServices(ServicesOf(snap)) }

// SetServices replaces the watched Services. The whole registry is
// mirrored anyway, so a new Service is served from the mirror at once.
func (s *Source) SetServices(services map[string]Service) {
	s.mu.Lock()
	before := len(s.byPolicy)
	s.byPolicy = make(map[string]target, len(services))
	for name, d := range services {
		s.byPolicy[name] = target{app: strings.ToUpper(d.App), vip: d.VIP, secure: d.TLS}
	}
	first := before == 0 && len(s.byPolicy) > 0
	s.mu.Unlock()
	if first {
		poke(s.pollCh)
	}
	s.emit.Kick()
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Synced reports whether the registry has been read once (or no Service
// uses Eureka).
func (s *Source) Synced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byPolicy) == 0 || s.haveFull
}

// Up reports whether the last poll was answered by a server.
func (s *Source) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

// Watching is how many policy Services use Eureka (all served by one poll
// loop); 0 means the source is not in use.
func (s *Source) Watching() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byPolicy)
}

// Run polls until ctx ends: a full fetch first (and after any failure),
// then the delta every PollInterval, while a policy Service uses Eureka.
func (s *Source) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.emit.Run(ctx, s.nextSnapshot, s.cfg.OnUpdate) }()
	defer wg.Wait()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.pollCh:
		}
		if s.Watching() > 0 {
			s.poll(ctx)
			if ctx.Err() != nil {
				return
			}
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(s.cfg.PollInterval)
	}
}

// poll brings the mirror up to date: the delta, checked against the
// server's hash code, else a full fetch.
func (s *Source) poll(ctx context.Context) {
	s.mu.Lock()
	full, last := s.needFull, s.server
	s.mu.Unlock()
	if !full {
		d, idx, err := s.fetch(ctx, "/apps/delta")
		if err != nil {
			s.failed(err)
			return
		}
		if idx != last {
			// Another server's delta queue is not the one the mirror
			// followed: read everything from it.
			full = true
		} else {
			s.mu.Lock()
			s.mirror.applyDelta(d)
			s.stats.Delta++
			mine := s.mirror.hashCode()
			if mine == d.HashCode {
				s.okLocked(idx, d.HashCode)
				s.mu.Unlock()
				s.emit.Kick()
				return
			}
			// What Eureka's client does too (DiscoveryClient.getAndUpdateDelta,
			// reconcileAndLogDifference): a delta that does not reach the
			// server's hash code missed something; read everything.
			s.stats.HashMismatches++
			s.mu.Unlock()
		}
	}
	a, idx, err := s.fetch(ctx, "/apps")
	if err != nil {
		s.failed(err)
		return
	}
	m := fromFull(a)
	s.mu.Lock()
	s.mirror, s.haveFull, s.needFull = m, true, false
	s.stats.Full++
	s.okLocked(idx, a.HashCode)
	s.mu.Unlock()
	s.emit.Kick()
}

func (s *Source) okLocked(idx int, hash string) {
	if idx != s.server {
		s.stats.Failovers++
	}
	s.server, s.up, s.lastOK, s.hash = idx, true, time.Now(), hash
}

// failed keeps the mirror (last known good) and asks for a full fetch
// next time: deltas may have been missed.
func (s *Source) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up, s.needFull = false, true
	s.lastErr, s.errAt = err.Error(), time.Now()
}

// fetch GETs path from the servers, starting with the one that answered
// last, and returns the first answer and which server gave it.
func (s *Source) fetch(ctx context.Context, path string) (*apps, int, error) {
	s.mu.Lock()
	start := s.server
	s.mu.Unlock()
	n := len(s.cfg.Servers)
	var errs []error
	for k := 0; k < n; k++ {
		idx := (start + k) % n
		a, err := s.get(ctx, s.cfg.Servers[idx]+path)
		if err == nil {
			return a, idx, nil
		}
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		s.mu.Lock()
		s.stats.Errors++
		s.mu.Unlock()
		errs = append(errs, err)
	}
	return nil, 0, errors.Join(errs...)
}

func (s *Source) get(ctx context.Context, u string) (*apps, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "gatehouse")
	if s.cfg.Username != "" {
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading: %w", u, err)
	}
	if int64(len(body)) > s.cfg.MaxBody {
		return nil, fmt.Errorf("GET %s: answer larger than %d bytes", u, s.cfg.MaxBody)
	}
	var doc appsDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("GET %s: not Eureka's JSON: %w", u, err)
	}
	return &doc.Applications, nil
}

// nextSnapshot builds the snapshot to report and whether it differs from
// the last one reported. Nothing is reported before the first full fetch:
// a Service absent from the snapshot is "not read yet", never empty.
func (s *Source) nextSnapshot() (registry.Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.haveFull {
		return nil, false
	}
	out := make(registry.Snapshot, len(s.byPolicy))
	s.counts = make(map[string]counts, len(s.byPolicy))
	for name, t := range s.byPolicy {
		eps, c := endpointsOf(s.mirror, t)
		s.counts[name] = c
		if prev, ok := s.emitted[name]; ok && registry.Equal(prev, eps) {
			eps = prev // unchanged: keep the old slice (cheap Equal downstream)
		}
		out[name] = eps
	}
	if out.Equal(s.emitted) {
		return nil, false
	}
	s.emitted = out
	return maps.Clone(out), true
}
