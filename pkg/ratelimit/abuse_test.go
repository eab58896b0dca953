package ratelimit

import (
	"context"
	"math"
	"strconv"
	"testing"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A huge hits_addend must not wrap a counter back under its limit: once a
// request has pushed a counter over, every later request in the window is
// over too, whatever it adds.
func TestHugeHitsAddendNeverWrapsACounter(t *testing.T) {
	for _, first := range []uint64{math.MaxUint64, math.MaxUint64 - 1, math.MaxInt64, 1 << 63, 1 << 40} {
		t.Run(strconv.FormatUint(first, 10), func(t *testing.T) {
			h := newHarness(t, basicConfig())
			d := desc("ratelimit", "per-consumer#0", "consumer", "mallory")
			d.HitsAddend = wrapperspb.UInt64(first)
			if r := h.call(t, "gatehouse/public", 0, d); r.OverallCode != OVER {
				t.Fatalf("hits_addend %d on a limit of 100: %v", first, r)
			}
			for _, next := range []uint64{1, 2, 3, math.MaxUint64, 0} {
				d.HitsAddend = wrapperspb.UInt64(next)
				if r := h.call(t, "gatehouse/public", 0, d); r.OverallCode != OVER {
					t.Fatalf("after hits_addend %d, a request adding %d is allowed: the counter wrapped (%v)", first, next, r)
				}
			}
			if got := testutil.ToFloat64(h.svc.metrics.ignored.WithLabelValues("hits_addend_clamped")); got < 1 {
				t.Fatalf("clamped addends not counted: %v", got)
			}
		})
	}
}

// The request-wide hits_addend (a uint32) is honoured as is: it is below
// the cap.
func TestRequestHitsAddendBelowTheCapIsExact(t *testing.T) {
	h := newHarness(t, basicConfig())
	d := desc("ratelimit", "per-consumer#0", "consumer", "alice")
	if r := h.call(t, "gatehouse/public", 99, d); r.OverallCode != OK || r.Statuses[0].LimitRemaining != 1 {
		t.Fatalf("99 of 100: %v", r)
	}
	if r := h.call(t, "gatehouse/public", math.MaxUint32, d); r.OverallCode != OVER {
		t.Fatalf("MaxUint32 more: %v", r)
	}
}

// A flood of new keys (one counter per remote address, say) fills the
// memory store; it must not evict a consumer's plan or quota counters,
// which would hand the consumer its allowance again.
func TestKeyFloodDoesNotResetPlansOrQuotas(t *testing.T) {
	clock := newFakeClock(t0)
	store := NewMemoryStore(MemoryOptions{Clock: clock.Now, MaxEntries: 64, Shards: 2, JanitorInterval: -1})
	defer store.Close()
	svc, err := New(Options{Store: store, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(basicConfig()); err != nil {
		t.Fatal(err)
	}
	call := func(ds ...*rlsv3.RateLimitRequest) *rlsv3.RateLimitResponse {
		r, err := svc.ShouldRateLimit(context.Background(), ds[0])
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	plan := &rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: descs(desc("plan", "acme"))}
	for i := 0; i < 5; i++ { // gold: 5 per second, 20 per month
		if r := call(plan); r.OverallCode != OK {
			t.Fatalf("plan request %d: %v", i+1, r)
		}
	}
	if r := call(plan); r.OverallCode != OVER {
		t.Fatalf("6th request in a second: %v", r)
	}
	for i := 0; i < 5000; i++ {
		call(&rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: descs(desc("ratelimit", "shadowed#0", "masked_remote_address", "198.51.100."+strconv.Itoa(i)+"/32"))})
	}
	if r := call(plan); r.OverallCode != OVER {
		t.Fatalf("after a flood of new keys the plan allows again: %v", r)
	}
	// The quota too: 5 used of 20; spend the rest over later seconds.
	used := 5
	for sec := 1; used < 20; sec++ {
		clock.Add(1e9)
		for i := 0; i < 5 && used < 20; i++ {
			if r := call(plan); r.OverallCode != OK {
				t.Fatalf("quota request %d: %v", used+1, r)
			}
			used++
		}
		for i := 0; i < 500; i++ {
			call(&rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: descs(desc("ratelimit", "shadowed#0", "masked_remote_address", "203.0.113."+strconv.Itoa(sec*1000+i)+"/32"))})
		}
	}
	clock.Add(1e9)
	if r := call(plan); r.OverallCode != OVER {
		t.Fatalf("quota of 20 spent, flood in between, yet request 21 is allowed: %v", r)
	}
}

func descs(ds ...*rlcommon.RateLimitDescriptor) []*rlcommon.RateLimitDescriptor { return ds }
