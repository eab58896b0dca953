package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Defaults of Options.
const (
	DefaultTimeout        = 100 * time.Millisecond
	DefaultMaxDescriptors = 16
	DefaultMaxEntries     = 16
)

// MaxHitsAddend caps hits_addend (per request and per descriptor). It is
// one more than the largest limit (requests_per_unit is a uint32), so a
// clamped addend is over every limit exactly when the real one is, and
// counters fed by it stay far from the 64-bit ceiling, at which they
// saturate anyway. envoyproxy/ratelimit does not cap it: it sends it to
// INCRBY as a uint64 (src/redis/fixed_cache_impl.go), so past 2^63-1 Redis
// refuses the command and the call fails (checkError panics with a
// RedisError, src/redis/driver_impl.go): Envoy's failure mode decides.
const MaxHitsAddend = 1 << 32

// Options configure a Service.
type Options struct {
	// Store keeps the counters (NewMemoryStore or NewRedisStore). Required.
	Store Store
	// Clock returns the current time; time.Now when nil. Tests inject one.
	Clock func() time.Time
	// Timeout bounds each store call; on expiry the request fails with
	// Unavailable, so Envoy applies the route's failure mode in time.
	Timeout time.Duration
	// Registerer receives the service's metrics; none are registered when nil.
	Registerer prometheus.Registerer
	// MaxDescriptors caps the descriptors read from one request; the rest
	// are answered OK without counting. MaxEntries caps the entries of one
	// descriptor; a longer descriptor is treated as unknown.
	MaxDescriptors int
	MaxEntries     int
	// TracerProvider, if set, gets a span per ShouldRateLimit, a child of
	// the trace Envoy propagates (pkg/tracing); nil traces nothing.
	TracerProvider trace.TracerProvider
}

// Service implements envoy.service.ratelimit.v3.RateLimitService.
type Service struct {
	rlsv3.UnimplementedRateLimitServiceServer

	store          Store
	clock          func() time.Time
	timeout        time.Duration
	maxDescriptors int
	maxEntries     int
	metrics        *metrics
	cfg            atomic.Pointer[snapshot]
	tracer         trace.Tracer // nil: tracing off
}

// New returns a Service that enforces nothing until the first Update.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("ratelimit: Options.Store is required")
	}
	s := &Service{
		store:          opts.Store,
		clock:          opts.Clock,
		timeout:        opts.Timeout,
		maxDescriptors: opts.MaxDescriptors,
		maxEntries:     opts.MaxEntries,
		tracer:         tracing.Tracer(opts.TracerProvider, TracerName),
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.maxDescriptors <= 0 {
		s.maxDescriptors = DefaultMaxDescriptors
	}
	if s.maxEntries <= 0 {
		s.maxEntries = DefaultMaxEntries
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: metrics: %w", err)
	}
	s.metrics = m
	s.cfg.Store(compile(&Config{}))
	return s, nil
}

// Update validates cfg and, if it is valid, makes it the one in force for
// every later request. It never blocks requests: the compiled config is
// swapped atomically. On error the previous config stays in force.
// Counters survive an Update: they are keyed by RateLimit name, index and
// key values, not by config version.
func (s *Service) Update(cfg *Config) error {
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.cfg.Store(compile(cfg))
	return nil
}

// Register adds the service to a gRPC server.
func (s *Service) Register(g *grpc.Server) {
	rlsv3.RegisterRateLimitServiceServer(g, s)
}

// check is one limit a request is counted against.
type check struct {
	desc    int
	label   string
	rate    Rate
	proto   *rlsv3.RateLimitResponse_RateLimit
	shadow  bool
	quota   bool // counted only when the request is allowed
	sliding bool
	win     window
	hits    uint64
	cur     int // index of the current window's Op
	prev    int // index of the previous window's Op (sliding only)
}

// ShouldRateLimit answers Envoy's ratelimit filter.
func (s *Service) ShouldRateLimit(ctx context.Context, req *rlsv3.RateLimitRequest) (*rlsv3.RateLimitResponse, error) {
	if s.tracer == nil {
		return s.shouldRateLimit(ctx, req)
	}
	ctx, span := s.startSpan(ctx)
	resp, err := s.shouldRateLimit(ctx, req)
	s.endSpan(span, req, resp, err)
	return resp, err
}

func (s *Service) shouldRateLimit(ctx context.Context, req *rlsv3.RateLimitRequest) (*rlsv3.RateLimitResponse, error) {
	snap := s.cfg.Load()
	descs := req.GetDescriptors()
	resp := &rlsv3.RateLimitResponse{
		OverallCode: rlsv3.RateLimitResponse_OK,
		Statuses:    make([]*rlsv3.RateLimitResponse_DescriptorStatus, len(descs)),
	}
	for i := range resp.Statuses {
		// No limit applies unless a check below says otherwise; like
		// envoyproxy/ratelimit, such a descriptor is OK with no current limit.
		resp.Statuses[i] = &rlsv3.RateLimitResponse_DescriptorStatus{Code: rlsv3.RateLimitResponse_OK}
	}
	known, ok := snap.domains[req.GetDomain()]
	if !ok {
		s.metrics.ignored.WithLabelValues("unknown_domain").Inc()
		return resp, nil
	}
	if len(descs) > s.maxDescriptors {
		s.metrics.ignored.WithLabelValues("too_many_descriptors").Add(float64(len(descs) - s.maxDescriptors))
		descs = descs[:s.maxDescriptors]
	}

	now := s.clock()
	checks := make([]check, 0, len(descs)+2)
	ops := make([]Op, 0, len(descs)+2)
	refused := false
	for i, d := range descs {
		hits := uint64(req.GetHitsAddend())
		if hits == 0 {
			hits = 1 // 0 means 1 (the proto's documented default)
		}
		if h := d.GetHitsAddend(); h != nil {
			hits = h.GetValue() // per descriptor; 0 only checks, as in envoyproxy/ratelimit
		}
		if allowed := snap.hitsAllowed(req.GetDomain(), known, d.GetEntries()); hits > allowed && allowed < MaxHitsAddend {
			// More than the RateLimit lets one request count as: refused
			// (OVER_LIMIT, so Envoy's failure mode cannot let it pass) and
			// nothing of the request is counted. A RateLimit allowing
			// MaxHitsAddend allows any: larger values are clamped below.
			s.metrics.ignored.WithLabelValues("hits_addend_refused").Inc()
			resp.Statuses[i].Code = rlsv3.RateLimitResponse_OVER_LIMIT
			resp.OverallCode = rlsv3.RateLimitResponse_OVER_LIMIT
			refused = true
			continue
		}
		if hits > MaxHitsAddend {
			// Clamped, not refused: an error would let Envoy's failure mode
			// (allow, by default) pass the request uncounted.
			s.metrics.ignored.WithLabelValues("hits_addend_clamped").Inc()
			hits = MaxHitsAddend
		}
		checks, ops = s.resolve(snap, known, i, d.GetEntries(), hits, now, checks, ops)
	}
	if refused || len(checks) == 0 {
		return resp, nil
	}

	counts := make([]uint64, len(ops))
	if err := s.apply(ctx, ops, counts); err != nil {
		return nil, status.Errorf(codes.Unavailable, "rate-limit store: %v", err)
	}

	var quotaOps []Op
	for i := range checks {
		c := &checks[i]
		over, remaining := evaluate(c, counts, now)
		decision := "ok"
		code := rlsv3.RateLimitResponse_OK
		if over {
			remaining = 0
			if c.shadow {
				decision = "shadow_over_limit"
			} else {
				decision = "over_limit"
				code = rlsv3.RateLimitResponse_OVER_LIMIT
				resp.OverallCode = rlsv3.RateLimitResponse_OVER_LIMIT
			}
		}
		s.metrics.decision(req.GetDomain(), c.label, decision).Inc()
		merge(resp.Statuses[c.desc], code, c.proto, remaining, c.win.end.Unix()-now.Unix())
		if c.quota && c.hits > 0 {
			quotaOps = append(quotaOps, Op{Key: ops[c.cur].Key, Addend: c.hits, TTL: keep(c.rate.Unit, false), Pinned: true})
		}
	}
	// A quota counts only allowed requests, so it is read above and
	// incremented here once the decision is known. Two replicas deciding at
	// the same instant may both allow the last request of a quota: the
	// overshoot is bounded by the requests in flight.
	if resp.OverallCode == rlsv3.RateLimitResponse_OK && len(quotaOps) > 0 {
		if err := s.apply(ctx, quotaOps, make([]uint64, len(quotaOps))); err != nil {
			// An OK here would let the request through uncounted, on every
			// route, whatever its failure mode: with a store that reads but
			// refuses writes (Redis out of memory) a quota would never run
			// out. The call fails like a failed first call, so the route's
			// failure mode decides, as for every other store error: Envoy
			// reads any gRPC error as LimitStatus::Error and then continues
			// (failure mode allow) or answers 500 (failure_mode_deny).
			// Envoy: source/extensions/filters/http/ratelimit/ratelimit.cc,
			// source/extensions/filters/common/ratelimit/ratelimit_impl.cc.
			return nil, status.Errorf(codes.Unavailable, "rate-limit store: recording quota: %v", err)
		}
	}
	return resp, nil
}

func (s *Service) apply(ctx context.Context, ops []Op, counts []uint64) error {
	if _, local := s.store.(*MemoryStore); !local {
		// A timer per call costs more than the memory store's whole work,
		// and the memory store never waits: only remote stores get one.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	start := time.Now()
	err := s.store.Apply(ctx, ops, counts)
	s.metrics.latency.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.backendErrors.Inc()
		return err
	}
	return nil
}

// resolve appends the checks and store operations of descriptor i.
func (s *Service) resolve(snap *snapshot, known map[string]bool, i int, entries []*rlcommon.RateLimitDescriptor_Entry, hits uint64, now time.Time, checks []check, ops []Op) ([]check, []Op) {
	if len(entries) == 0 {
		s.metrics.ignored.WithLabelValues("empty_descriptor").Inc()
		return checks, ops
	}
	if len(entries) > s.maxEntries {
		s.metrics.ignored.WithLabelValues("too_many_entries").Inc()
		return checks, ops
	}
	switch entries[0].GetKey() {
	case wire.DescRateLimit:
		l := snap.limits[entries[0].GetValue()]
		if l == nil || !known[l.name] {
			s.metrics.ignored.WithLabelValues("unknown_limit").Inc()
			return checks, ops
		}
		if len(entries)-1 != len(l.keys) {
			s.metrics.ignored.WithLabelValues("key_mismatch").Inc()
			return checks, ops
		}
		parts := make([]string, len(entries))
		parts[0] = l.id
		for j, e := range entries[1:] {
			if e.GetKey() != l.keys[j] {
				s.metrics.ignored.WithLabelValues("key_mismatch").Inc()
				return checks, ops
			}
			parts[j+1] = e.GetValue()
		}
		c := check{desc: i, label: l.id, rate: l.rate, proto: l.proto, shadow: l.shadow, sliding: l.sliding, hits: hits}
		return addCheck(c, 'r', parts, now, checks, ops)
	case wire.DescPlan:
		if len(entries) != 1 {
			s.metrics.ignored.WithLabelValues("key_mismatch").Inc()
			return checks, ops
		}
		consumer := entries[0].GetValue()
		if consumer == "" {
			// Envoy never sends one (the action's default is "anonymous"):
			// a mismatched config, counted so that it shows.
			s.metrics.ignored.WithLabelValues("empty_consumer").Inc()
			return checks, ops
		}
		p := snap.consumerPlan[consumer]
		if p == nil {
			return checks, ops // no plan (anonymous callers included): no plan limits
		}
		for j, r := range p.limits {
			c := check{desc: i, label: r.label, rate: r.rate, proto: r.proto, hits: hits}
			checks, ops = addCheck(c, 'p', []string{consumer, string(r.rate.Unit), itoa(j)}, now, checks, ops)
		}
		if q := p.quota; q != nil {
			c := check{desc: i, label: q.label, rate: q.rate, proto: q.proto, hits: hits, quota: true}
			checks, ops = addCheck(c, 'q', []string{consumer, string(q.rate.Unit)}, now, checks, ops)
		}
		return checks, ops
	}
	s.metrics.ignored.WithLabelValues("unknown_descriptor").Inc()
	return checks, ops
}

func addCheck(c check, kind byte, parts []string, now time.Time, checks []check, ops []Op) ([]check, []Op) {
	c.win = windowAt(c.rate.Unit, now)
	c.cur = len(ops)
	addend := c.hits
	if c.quota {
		addend = 0 // read now, increment once the request is allowed
	}
	pinned := kind != 'r' // plan limits and quotas
	ops = append(ops, Op{Key: counterKey(kind, parts, c.win.start.Unix()), Addend: addend, TTL: keep(c.rate.Unit, c.sliding), Pinned: pinned})
	if c.sliding {
		c.prev = len(ops)
		ops = append(ops, Op{Key: counterKey(kind, parts, c.win.previous(c.rate.Unit).start.Unix()), Pinned: pinned})
	}
	return append(checks, c), ops
}

// evaluate decides one check from the counters read back.
func evaluate(c *check, counts []uint64, now time.Time) (over bool, remaining uint32) {
	limit := float64(c.rate.Requests)
	used := float64(counts[c.cur])
	switch {
	case c.quota:
		used += float64(c.hits)
	case c.sliding:
		// The previous window's count, weighted by the share of it that
		// still lies within one unit of now.
		elapsed := now.Sub(c.win.start).Seconds() / c.win.end.Sub(c.win.start).Seconds()
		used += float64(counts[c.prev]) * (1 - elapsed)
	}
	if used > limit {
		return true, 0
	}
	return false, uint32(min(limit-used, float64(^uint32(0))))
}

// merge folds one check into its descriptor's status: an OVER_LIMIT check
// wins; otherwise the check with the fewest remaining requests speaks for
// the descriptor, so x-ratelimit-* headers show the tightest limit.
func merge(st *rlsv3.RateLimitResponse_DescriptorStatus, code rlsv3.RateLimitResponse_Code, limit *rlsv3.RateLimitResponse_RateLimit, remaining uint32, resetSeconds int64) {
	if st.CurrentLimit != nil {
		if st.Code == rlsv3.RateLimitResponse_OVER_LIMIT {
			return
		}
		if code != rlsv3.RateLimitResponse_OVER_LIMIT && remaining >= st.LimitRemaining {
			return
		}
	}
	st.Code = code
	st.CurrentLimit = limit
	st.LimitRemaining = remaining
	st.DurationUntilReset = &durationpb.Duration{Seconds: resetSeconds}
}
