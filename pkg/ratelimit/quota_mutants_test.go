package ratelimit

import (
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Tests written to kill surviving mutants of `make mutate` (gremlins) in
// pkg/ratelimit's quota recording; docs/testing.md has the run.

// A descriptor with hits_addend 0 only checks (as in envoyproxy/ratelimit):
// it reads the quota and writes nothing, so a store that refuses writes
// cannot turn a check into an error, and the quota is not spent. Killed
// mutant: `c.hits > 0` moved to >= in shouldRateLimit, which sent a second
// store call with a zero quota increment for every check-only request.
func TestCheckOnlyRequestRecordsNoQuota(t *testing.T) {
	svc, fs, clock := newFaultService(t, nil)
	check := desc("plan", "acme")
	check.HitsAddend = wrapperspb.UInt64(0)
	for i := 0; i < 3; i++ {
		before := fs.ncalls()
		r, err := rl(svc, check)
		if err != nil || r.OverallCode != OK {
			t.Fatalf("check-only request %d: %v, %v; want OK", i, r, err)
		}
		if n := fs.ncalls() - before; n != 1 {
			t.Fatalf("check-only request %d made %d store calls, want 1 (the read; no quota write)", i, n)
		}
	}
	// gold's quota is 20 a month and 5 a second: the checks spent none of
	// it, so after 20 counted requests (one a second) the 21st is over.
	for i := 0; i < 20; i++ {
		r, err := rl(svc, desc("plan", "acme"))
		if err != nil || r.OverallCode != OK {
			t.Fatalf("counted request %d: %v, %v; want OK", i+1, r, err)
		}
		clock.Add(1e9)
	}
	if r, err := rl(svc, desc("plan", "acme")); err != nil || r.OverallCode != OVER {
		t.Fatalf("request 21 of a 20-request quota: %v, %v; want OVER_LIMIT", r, err)
	}
}

// An allowed request that no quota applies to makes one store call: the
// second, which records quotas, is only made when there is one to record
// (a round-trip to Redis per request otherwise, and with a store refusing
// calls an error for a request no quota concerns). Killed mutant:
// `len(quotaOps) > 0` moved to >= in shouldRateLimit.
func TestNoQuotaNoSecondStoreCall(t *testing.T) {
	svc, fs, _ := newFaultService(t, nil)
	for _, d := range []*rlcommon.RateLimitDescriptor{
		desc("plan", "tiny"), // a plan without a quota
		desc("ratelimit", "per-consumer#0", "consumer", "acme"),
	} {
		before := fs.ncalls()
		r, err := rl(svc, d)
		if err != nil || r.OverallCode != OK {
			t.Fatalf("%v: %v, %v; want OK", d, r, err)
		}
		if n := fs.ncalls() - before; n != 1 {
			t.Fatalf("%v: %d store calls, want 1 (no quota to record)", d, n)
		}
	}
}

// Without Options.Timeout a store call gets 100 ms, the documented default:
// enough for a Redis round trip, not so long that Envoy's own timeout on
// the rate-limit call fires first. Killed mutant (not covered by gremlins,
// which gives a constant no coverage block): `100 * time.Millisecond`
// turned into `/`, a zero timeout under which every remote store call
// fails and each request is left to the route's failure mode.
func TestDefaultStoreTimeout(t *testing.T) {
	svc, err := New(Options{Store: NewMemoryStore(MemoryOptions{JanitorInterval: -1})})
	if err != nil {
		t.Fatal(err)
	}
	if svc.timeout != 100*time.Millisecond {
		t.Fatalf("default store timeout %v, want 100ms", svc.timeout)
	}
}

// TestDescriptorCountAtTheBound: exactly maxDescriptors descriptors all
// count, and nothing is reported as ignored: no too_many_descriptors
// series appears (a cap taken at the bound itself would add one at 0).
func TestDescriptorCountAtTheBound(t *testing.T) {
	h := newHarness(t, basicConfig())
	var ds []*rlcommon.RateLimitDescriptor
	for range h.svc.maxDescriptors {
		ds = append(ds, desc("ratelimit", "per-consumer#0", "consumer", "bound"))
	}
	r := h.call(t, "gatehouse/public", 0, ds...)
	last := r.Statuses[len(ds)-1]
	if last.GetCurrentLimit() == nil {
		t.Fatalf("descriptor %d of %d was not counted: %v", len(ds), len(ds), last)
	}
	if n := testutil.CollectAndCount(h.svc.metrics.ignored, "gatehouse_ratelimit_ignored_descriptors_total"); n != 0 {
		t.Fatalf("%d ignored-descriptor series after a request at the bound, want none", n)
	}
}
