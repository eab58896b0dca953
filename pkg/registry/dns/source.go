package dns

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// Config of the DNS source.
type Config struct {
	// Servers are the DNS servers asked (host:port), in order; empty means
	// the nameservers of ResolvConf, read when a Service first uses DNS.
	Servers    []string
	ResolvConf string        // default /etc/resolv.conf
	Timeout    time.Duration // per query and server; default 2s
	// MinTTL is the shortest time between two resolutions of a name
	// (a smaller TTL counts as MinTTL); default 1s.
	MinTTL time.Duration
	// OnUpdate receives every resolved Service's endpoints whenever one
	// changes (never concurrently).
	OnUpdate func(registry.Snapshot)
}

func (c *Config) defaults() {
	if c.ResolvConf == "" {
		c.ResolvConf = "/etc/resolv.conf"
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.MinTTL <= 0 {
		c.MinTTL = time.Second
	}
}

// firstRetry is the wait after a first failed query; it doubles up to the
// Service's refresh rate.
const firstRetry = time.Second

// Source resolves the names of the policy's discovery.dns Services.
type Source struct {
	cfg Config

	mu        sync.Mutex
	res       *resolver
	targets   map[string]*target // policy Service name
	lastOK    time.Time
	lastErr   string
	lastErrAt time.Time
	kickCh    chan struct{}
}

// target is one policy Service's name and what its last answer gave.
type target struct {
	d        policy.DNSDiscovery
	eps      []registry.Endpoint // served; replaced, never modified
	resolved bool                // answered at least once
	next     time.Time           // when to resolve again
	ttl      time.Duration       // of the last answer (0: none, refresh rate used)
	failures int                 // consecutive failed queries
	lastErr  string
	answered time.Time
}

// New returns a Source; nothing is read or asked until a Service uses DNS.
func New(cfg Config) *Source {
	cfg.defaults()
	return &Source{cfg: cfg, targets: map[string]*target{}, kickCh: make(chan struct{}, 1)}
}

// Name is the source's label in gatehouse_registry_up and logs.
func (s *Source) Name() string { return "dns" }

// ServicesOf returns the policy Services of snap that use DNS.
func ServicesOf(snap *policy.Snapshot) map[string]policy.DNSDiscovery {
	out := map[string]policy.DNSDiscovery{}
	if snap == nil {
		return out
	}
	for name, svc := range snap.Services {
		if d := svc.Spec.Discovery.DNS; d != nil {
			out[name] = *d
		}
	}
	return out
}

// SetPolicy resolves what snap references (see SetServices).
func (s *Source) SetPolicy(snap *policy.Snapshot) { s.SetServices(ServicesOf(snap)) }

// SetServices replaces the resolved names. A Service whose discovery is
// unchanged keeps its addresses and schedule; a new or changed one is
// resolved at once.
func (s *Source) SetServices(services map[string]policy.DNSDiscovery) {
	s.mu.Lock()
	next := make(map[string]*target, len(services))
	for name, d := range services {
		if t, ok := s.targets[name]; ok && t.d == d {
			next[name] = t
			continue
		}
		next[name] = &target{d: d}
	}
	s.targets = next
	s.mu.Unlock()
	s.kick()
}

func (s *Source) kick() {
	select {
	case s.kickCh <- struct{}{}:
	default:
	}
}

// Synced reports whether every referenced name has been answered once:
// until then the first configuration is held back.
func (s *Source) Synced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.targets {
		if !t.resolved {
			return false
		}
	}
	return true
}

// Up reports whether the last query of every name was answered.
func (s *Source) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upLocked()
}

func (s *Source) upLocked() bool {
	for _, t := range s.targets {
		if t.failures > 0 {
			return false
		}
	}
	return true
}

// Watching is the number of names resolved.
func (s *Source) Watching() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.targets)
}

// Run resolves each name when due until ctx ends.
func (s *Source) Run(ctx context.Context) {
	var emitted registry.Snapshot
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for _, job := range s.due(time.Now()) {
			var a answer
			err := s.resolverErr()
			if err == nil {
				qctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Timeout*time.Duration(max(1, len(s.res.servers))))
				a, err = s.res.resolve(qctx, job.d.Name, job.d.FamilyOrDefault())
				cancel()
			}
			if ctx.Err() != nil {
				return
			}
			s.apply(job.name, job.d, a, err, time.Now())
		}
		if snap, changed := s.snapshot(emitted); changed {
			emitted = snap
			if s.cfg.OnUpdate != nil {
				s.cfg.OnUpdate(snap)
			}
		}
		wait := s.untilNext(time.Now())
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.kickCh:
		case <-timer.C:
		}
	}
}

type job struct {
	name string
	d    policy.DNSDiscovery
}

// due lists the names whose time has come, in name order.
func (s *Source) due(now time.Time) []job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []job
	for name, t := range s.targets {
		if !t.next.After(now) {
			out = append(out, job{name, t.d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// untilNext is how long until the next name is due (at most a minute, so
// a clock jump cannot stall the loop for long).
func (s *Source) untilNext(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := time.Minute
	for _, t := range s.targets {
		if d := t.next.Sub(now); d < wait {
			wait = max(d, 0)
		}
	}
	return wait
}

// resolverErr builds the resolver on first use: resolv.conf is read only
// once a Service uses DNS.
func (s *Source) resolverErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.res != nil {
		return nil
	}
	servers := s.cfg.Servers
	if len(servers) == 0 {
		var err error
		if servers, err = systemServers(s.cfg.ResolvConf); err != nil {
			return err
		}
	}
	if len(servers) == 0 {
		return errNoServer
	}
	s.res = &resolver{servers: servers, timeout: s.cfg.Timeout}
	return nil
}

// apply records one resolution of name (if the policy still asks for it
// with the same discovery).
func (s *Source) apply(name string, d policy.DNSDiscovery, a answer, err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.targets[name]
	if !ok || t.d != d {
		return
	}
	refresh := d.RefreshOrDefault()
	if err != nil {
		// Last known good: the addresses stay; retry with backoff.
		t.failures++
		t.lastErr = err.Error()
		s.lastErr, s.lastErrAt = t.lastErr, now
		t.next = now.Add(min(refresh, firstRetry<<min(t.failures-1, 16)))
		return
	}
	t.failures, t.lastErr, t.answered = 0, "", now
	s.lastOK = now
	t.resolved = true
	t.ttl = a.ttl
	t.next = now.Add(refresh)
	if a.ttl > 0 {
		t.next = now.Add(max(a.ttl, s.cfg.MinTTL))
	}
	addrs := a.addrs
	if d.TypeOrDefault() == policy.DNSLogical {
		if len(addrs) == 0 {
			return // LOGICAL_DNS keeps its last address on an empty answer
		}
		addrs = addrs[:1]
	}
	eps := make([]registry.Endpoint, 0, len(addrs))
	for _, ip := range addrs {
		eps = append(eps, registry.Endpoint{Address: ip.String(), Port: d.Port, Weight: 1})
	}
	registry.Sort(eps)
	if !registry.Equal(eps, t.eps) || t.eps == nil {
		t.eps = eps
	}
}

// snapshot is every answered Service's endpoints; changed reports whether
// it differs from prev.
func (s *Source) snapshot(prev registry.Snapshot) (registry.Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(registry.Snapshot, len(s.targets))
	for name, t := range s.targets {
		if t.resolved {
			out[name] = t.eps
		}
	}
	return out, !out.Equal(prev)
}
