package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Tests written to kill surviving mutants of the security decisions (make
// mutate-security; docs/testing.md). Each names the mutant it kills.

// A descriptor with exactly MaxEntries entries is counted; one more and it
// is ignored. Killed mutant: `len(entries) > s.maxEntries` moved to >= in
// resolve (which let a client skip a limit whose key has as many parts as
// the cap allows).
func TestMaxEntriesIsInclusive(t *testing.T) {
	clock := newFakeClock(t0)
	store := NewMemoryStore(MemoryOptions{Clock: clock.Now, JanitorInterval: -1})
	t.Cleanup(func() { store.Close() })
	svc, err := New(Options{Store: store, Clock: clock.Now, MaxEntries: 3})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{
		Domains: map[string]*Domain{"gatehouse/public": {RateLimits: []string{"two-keys"}}},
		Limits:  map[string]Limit{"two-keys#0": {Requests: 1, Unit: Minute, Keys: []string{"consumer", "route"}}},
	}
	if err := svc.Update(cfg); err != nil {
		t.Fatal(err)
	}
	d := desc("ratelimit", "two-keys#0", "consumer", "acme", "route", "r") // 3 entries: the cap
	for i, want := range []rlsv3.RateLimitResponse_Code{OK, OVER} {
		r, err := svc.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: []*rlcommon.RateLimitDescriptor{d}})
		if err != nil {
			t.Fatal(err)
		}
		if r.OverallCode != want || r.Statuses[0].GetCurrentLimit().GetRequestsPerUnit() != 1 {
			t.Fatalf("request %d with MaxEntries entries: %v, want %v under the limit", i+1, r, want)
		}
	}
	if got := testutil.ToFloat64(svc.metrics.ignored.WithLabelValues("too_many_entries")); got != 0 {
		t.Errorf("too_many_entries = %v for descriptors at the cap", got)
	}
}

// A hits_addend of exactly MaxHitsAddend is taken as it is, not reported as
// clamped; one more is clamped to it. Both count the same. Killed mutant:
// `hits > MaxHitsAddend` moved to >= in ShouldRateLimit.
func TestHitsAddendClampedOnlyAboveTheCap(t *testing.T) {
	h := newHarness(t, basicConfig())
	clamped := func() float64 {
		return testutil.ToFloat64(h.svc.metrics.ignored.WithLabelValues("hits_addend_clamped"))
	}
	for i, hits := range []uint64{MaxHitsAddend, MaxHitsAddend + 1} {
		d := desc("ratelimit", "per-consumer#0", "consumer", "big")
		d.HitsAddend = wrapperspb.UInt64(hits)
		before := clamped()
		r := h.call(t, "gatehouse/public", 0, d)
		if r.OverallCode != OVER {
			t.Fatalf("hits %d: %v, want over the limit", hits, r)
		}
		if got, want := clamped()-before, float64(i); got != want {
			t.Errorf("hits %d: hits_addend_clamped rose by %v, want %v", hits, got, want)
		}
	}
}

// When two limits of a descriptor leave the same number of requests, the
// first one keeps speaking for it: the x-ratelimit-* headers do not flip
// between limits from one request to the next. Killed mutant: `remaining
// >= st.LimitRemaining` moved to > in merge.
func TestTiedLimitsKeepTheFirst(t *testing.T) {
	cfg := basicConfig()
	cfg.Plans["tied"] = Plan{Limits: []Rate{{Requests: 5, Unit: Second}, {Requests: 5, Unit: Minute}}}
	cfg.ConsumerPlan["tie"] = "tied"
	h := newHarness(t, cfg)
	st := h.call(t, "gatehouse/public", 0, desc("plan", "tie")).Statuses[0]
	if st.Code != OK || st.LimitRemaining != 4 || st.CurrentLimit.GetUnit() != rlsv3.RateLimitResponse_RateLimit_SECOND {
		t.Errorf("tied limits: %v, want the first (per second) with 4 remaining", st)
	}
}

// A quota's counter lives one month (and a second of slack), not two: the
// store forgets it once its month is over. Killed mutant: the quota
// increment's TTL computed as for a sliding window in ShouldRateLimit.
func TestQuotaCounterExpiresAfterItsMonth(t *testing.T) {
	clock := newFakeClock(time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC))
	store := NewMemoryStore(MemoryOptions{Clock: clock.Now, JanitorInterval: -1})
	t.Cleanup(func() { store.Close() })
	svc, err := New(Options{Store: store, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{
		Domains:      map[string]*Domain{"gatehouse/public": {}},
		Plans:        map[string]Plan{"q": {Quota: &Rate{Requests: 10, Unit: Month}}},
		ConsumerPlan: map[string]string{"acme": "q"},
	}
	if err := svc.Update(cfg); err != nil {
		t.Fatal(err)
	}
	r, err := svc.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: []*rlcommon.RateLimitDescriptor{desc("plan", "acme")}})
	if err != nil || r.OverallCode != OK {
		t.Fatalf("quota request: %v, %v", r, err)
	}
	if n := store.Len(); n != 1 {
		t.Fatalf("%d counters after one quota request, want 1", n)
	}
	clock.Add(keep(Month, false) + time.Second)
	store.Sweep()
	if n := store.Len(); n != 0 {
		t.Errorf("%d counters %v after the quota's month: want it expired", n, keep(Month, false)+time.Second)
	}
}

// The tightest limit of a descriptor speaks for it, whatever the order of
// its limits, and a limit that rejects speaks over any that allows. Killed
// mutant: `code != OVER_LIMIT && remaining >= st.LimitRemaining` with || in
// merge (which kept the first limit's status).
func TestTightestLimitSpeaks(t *testing.T) {
	cfg := basicConfig()
	cfg.Plans["loose-first"] = Plan{Limits: []Rate{{Requests: 10, Unit: Minute}, {Requests: 3, Unit: Second}}}
	cfg.ConsumerPlan["lf"] = "loose-first"
	h := newHarness(t, cfg)
	for i, want := range []struct {
		code      rlsv3.RateLimitResponse_Code
		remaining uint32
	}{{OK, 2}, {OK, 1}, {OK, 0}, {OVER, 0}} {
		r := h.call(t, "gatehouse/public", 0, desc("plan", "lf"))
		st := r.Statuses[0]
		if r.OverallCode != want.code || st.Code != want.code || st.LimitRemaining != want.remaining ||
			st.CurrentLimit.GetUnit() != rlsv3.RateLimitResponse_RateLimit_SECOND || st.CurrentLimit.GetRequestsPerUnit() != 3 {
			t.Fatalf("request %d: overall %v, status %v; want %v with %d remaining of 3 per second", i+1, r.OverallCode, st, want.code, want.remaining)
		}
	}
}

// Other consumers' traffic cannot evict a consumer's plan limit or quota
// from a full memory store: those counters are pinned (bounded by the
// policy's consumers, not by the store), so what is spent stays spent.
// Killed mutant: `kind != 'r'` negated in addCheck (which left plan-limit
// counters evictable, so a busy store reset a spent per-second limit).
func TestOtherConsumersDoNotResetAPlanQuota(t *testing.T) {
	clock := newFakeClock(t0)
	store := NewMemoryStore(MemoryOptions{Clock: clock.Now, JanitorInterval: -1, MaxEntries: 8, Shards: 1})
	t.Cleanup(func() { store.Close() })
	svc, err := New(Options{Store: store, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := basicConfig()
	for i := 0; i < 50; i++ {
		cfg.ConsumerPlan[fmt.Sprintf("other-%d", i)] = "gold"
	}
	if err := svc.Update(cfg); err != nil {
		t.Fatal(err)
	}
	call := func(d *rlcommon.RateLimitDescriptor) rlsv3.RateLimitResponse_Code {
		t.Helper()
		r, err := svc.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: []*rlcommon.RateLimitDescriptor{d}})
		if err != nil {
			t.Fatal(err)
		}
		return r.OverallCode
	}
	// Spend acme's 20/month quota (5 a second for 4 seconds).
	for s := 0; s < 4; s++ {
		clock.Set(t0.Add(time.Duration(s) * time.Second))
		for i := 0; i < 5; i++ {
			if got := call(desc("plan", "acme")); got != OK {
				t.Fatalf("second %d, call %d: %v, want OK within the plan", s, i, got)
			}
		}
	}
	clock.Set(t0.Add(10 * time.Second))
	if got := call(desc("plan", "acme")); got != OVER {
		t.Fatalf("after the quota: %v, want OVER", got)
	}
	// tiny's plan allows 1 a second: spent for this second.
	if got := call(desc("plan", "tiny")); got != OK {
		t.Fatalf("tiny's first call: %v", got)
	}
	if got := call(desc("plan", "tiny")); got != OVER {
		t.Fatalf("tiny's second call in one second: %v, want OVER", got)
	}
	// 50 other consumers' plan counters, and 100 route-limit counters,
	// into a store that keeps 8 evictable ones.
	for i := 0; i < 50; i++ {
		call(desc("plan", fmt.Sprintf("other-%d", i)))
	}
	for i := 0; i < 100; i++ {
		call(desc("ratelimit", "per-consumer#0", "consumer", fmt.Sprintf("flood-%d", i)))
	}
	if got := call(desc("plan", "acme")); got != OVER {
		t.Fatalf("after other consumers' traffic: %v, want OVER (a spent quota must not be evicted)", got)
	}
	if got := call(desc("plan", "tiny")); got != OVER {
		t.Fatalf("tiny, same second, after other consumers' traffic: %v, want OVER (a plan limit's counter must not be evicted)", got)
	}
}
