package ratelimit

import (
	"math"
	"testing"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A hits_addend above what the limit's RateLimit allows (maxHitsAddend,
// 1 when unset) makes the request OVER_LIMIT and counts nothing of it, by
// request-wide and per-descriptor hits_addend alike, for limits and plan
// descriptors; up to the allowance it counts as before. Descriptors that
// are not counted are not refused.
func TestHitsAddendAboveTheRateLimitsAllowanceIsRefused(t *testing.T) {
	cfg := &Config{
		Domains: map[string]*Domain{
			"gatehouse/edge":   {RateLimits: []string{"one", "ten"}},
			"gatehouse/costly": {RateLimits: []string{"one"}, PlanMaxHits: 5},
		},
		Limits: map[string]Limit{
			"one#0": {Requests: 100, Unit: Minute, Keys: []string{"consumer"}},
			"ten#0": {Requests: 100, Unit: Minute, Keys: []string{"consumer"}, MaxHits: 10},
		},
		Plans:        map[string]Plan{"gold": {Limits: []Rate{{Requests: 100, Unit: Minute}}}},
		ConsumerPlan: map[string]string{"acme": "gold"},
	}
	h := newHarness(t, cfg)
	one := desc("ratelimit", "one#0", "consumer", "alice")
	ten := desc("ratelimit", "ten#0", "consumer", "alice")
	plan := desc("plan", "acme")
	per := func(d *rlcommon.RateLimitDescriptor, hits uint64) *rlcommon.RateLimitDescriptor {
		return &rlcommon.RateLimitDescriptor{Entries: d.Entries, HitsAddend: wrapperspb.UInt64(hits)}
	}
	refused := func(name string, domain string, hits uint32, ds ...*rlcommon.RateLimitDescriptor) {
		t.Helper()
		before := testutil.ToFloat64(h.svc.metrics.ignored.WithLabelValues("hits_addend_refused"))
		if r := h.call(t, domain, hits, ds...); r.OverallCode != OVER {
			t.Errorf("%s: %v, want OVER_LIMIT", name, r)
		}
		if got := testutil.ToFloat64(h.svc.metrics.ignored.WithLabelValues("hits_addend_refused")) - before; got < 1 {
			t.Errorf("%s: hits_addend_refused did not rise", name)
		}
	}
	refused("2 on a limit allowing 1", "gatehouse/edge", 2, one)
	refused("2^32-1 on a limit allowing 1", "gatehouse/edge", math.MaxUint32, one)
	refused("11 on a limit allowing 10", "gatehouse/edge", 11, ten)
	refused("per-descriptor 2^32 on a limit allowing 1", "gatehouse/edge", 0, per(one, 1<<32))
	refused("per-descriptor 2^64-1 on a limit allowing 10", "gatehouse/edge", 0, per(ten, math.MaxUint64))
	refused("a refused descriptor beside an allowed one", "gatehouse/edge", 0, per(ten, 3), per(one, 2))
	refused("plan descriptor, 2, domain allowing 1", "gatehouse/edge", 2, plan)
	refused("plan descriptor, 6, domain allowing 5", "gatehouse/costly", 6, plan)

	// Nothing above was counted: each limit still has all 100.
	for _, d := range []*rlcommon.RateLimitDescriptor{one, ten} {
		if r := h.call(t, "gatehouse/edge", 1, d); r.OverallCode != OK || r.Statuses[0].LimitRemaining != 99 {
			t.Fatalf("after refusals, %s: %v (want 99 left: nothing counted)", d.Entries[0].Value, r)
		}
	}
	// Within the allowance it counts.
	if r := h.call(t, "gatehouse/edge", 10, ten); r.OverallCode != OK || r.Statuses[0].LimitRemaining != 89 {
		t.Fatalf("10 on a limit allowing 10: %v", r)
	}
	if r := h.call(t, "gatehouse/costly", 5, plan); r.OverallCode != OK || r.Statuses[0].LimitRemaining != 95 {
		t.Fatalf("5 on a plan allowing 5: %v", r)
	}
	// Not counted, so not refused: an unknown limit, a limit of another
	// domain.
	for _, d := range []*rlcommon.RateLimitDescriptor{desc("ratelimit", "nope#0", "consumer", "x"), ten} {
		if r := h.call(t, "gatehouse/costly", 1000, d); r.OverallCode != OK {
			t.Errorf("uncounted descriptor %v: %v", d.Entries, r)
		}
	}
}
