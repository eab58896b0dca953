package ratelimit_test

import (
	"math/rand/v2"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit/ratelimittest"
)

// conformanceConfig allows any hits_addend (maxHitsAddend 2^32), as
// envoyproxy/ratelimit does, so that both count the same requests.
func conformanceConfig(d string) *ratelimit.Config {
	const anyHits = ratelimit.MaxHitsAddend
	return &ratelimit.Config{
		Domains: map[string]*ratelimit.Domain{d: {RateLimits: []string{"per-consumer", "per-route", "global", "watch"}}},
		Limits: map[string]ratelimit.Limit{
			"per-consumer#0": {Requests: 5, Unit: ratelimit.Minute, Keys: []string{"consumer"}, MaxHits: anyHits},
			"per-consumer#1": {Requests: 12, Unit: ratelimit.Hour, Keys: []string{"consumer"}, MaxHits: anyHits},
			"per-route#0":    {Requests: 7, Unit: ratelimit.Minute, Keys: []string{"consumer", "route"}, MaxHits: anyHits},
			"global#0":       {Requests: 40, Unit: ratelimit.Day, MaxHits: anyHits},
			"watch#0":        {Requests: 3, Unit: ratelimit.Minute, Shadow: true, Keys: []string{"remote_address"}, MaxHits: anyHits},
		},
	}
}

// TestConformanceWithEnvoyRatelimit sends the same requests to gatehouse
// and to envoyproxy/ratelimit, configured with the same limits on the same
// Redis, and requires the same decisions, remaining counts, limits and
// times to reset.
func TestConformanceWithEnvoyRatelimit(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	const d = "gatehouse/conformance"
	cfg := conformanceConfig(d)
	peer := startPeer(t, r.Addr, peerConfig(d, cfg))
	// Both count by the wall clock; a window edge between the two calls of
	// one step would make them differ, so start well inside a minute.
	if s := time.Now().Second(); s > 40 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	g := startGatehouse(t, newRedisStore(t, r.Addr, "conformance:"), nil, relaxed, cfg)

	rnd := rand.New(rand.NewPCG(1, 2))
	consumers := []string{"alice", "bob", "carol"}
	routes := []string{"r1", "r2"}
	descriptor := func() *rlcommon.RateLimitDescriptor {
		c := consumers[rnd.IntN(len(consumers))]
		switch rnd.IntN(7) {
		case 0, 1:
			return desc("ratelimit", "per-consumer#0", "consumer", c)
		case 2:
			return desc("ratelimit", "per-consumer#1", "consumer", c)
		case 3:
			return desc("ratelimit", "per-route#0", "consumer", c, "route", routes[rnd.IntN(2)])
		case 4:
			return desc("ratelimit", "global#0")
		case 5:
			return desc("ratelimit", "watch#0", "masked_remote_address", "192.0.2.7/32")
		default:
			return desc("ratelimit", "nope#0", "consumer", c) // no limit in either
		}
	}
	overs, shadowed := 0, 0
	start := time.Now()
	for step := 0; step < 120; step++ {
		n := 1 + rnd.IntN(3)
		var ds []*rlcommon.RateLimitDescriptor
		for i := 0; i < n; i++ {
			ds = append(ds, descriptor())
		}
		hits := uint32(0)
		switch rnd.IntN(6) {
		case 0:
			hits = 2
		case 1:
			ds[0].HitsAddend = wrapperspb.UInt64(uint64(rnd.IntN(3))) // 0 only checks
		}
		want := call(t, peer, d, hits, ds...)
		got := call(t, g.client, d, hits, ds...)
		compare(t, step, ds, want, got)
		if want.OverallCode == rlsv3.RateLimitResponse_OVER_LIMIT {
			overs++
		}
		for i, st := range want.Statuses {
			if st.Code == rlsv3.RateLimitResponse_OK && st.CurrentLimit != nil && st.LimitRemaining == 0 && ds[i].Entries[0].Value == "watch#0" {
				shadowed++
			}
		}
	}
	if overs < 10 || shadowed < 5 {
		t.Fatalf("sequence too tame: %d over-limit responses, %d shadowed statuses", overs, shadowed)
	}
	t.Logf("120 requests agreed (%d over the limit, %d shadowed statuses) in %v", overs, shadowed, time.Since(start))
}

func compare(t *testing.T, step int, ds []*rlcommon.RateLimitDescriptor, want, got *rlsv3.RateLimitResponse) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("step %d %v: "+format+"\nenvoyproxy/ratelimit: %v\ngatehouse:            %v", append(append([]any{step, ds}, args...), want, got)...)
	}
	if want.OverallCode != got.OverallCode {
		fail("overall code differs")
	}
	if len(want.Statuses) != len(got.Statuses) {
		fail("status count differs")
	}
	for i, w := range want.Statuses {
		g := got.Statuses[i]
		if w.Code != g.Code || w.LimitRemaining != g.LimitRemaining {
			fail("status %d: code/remaining differ", i)
		}
		if (w.CurrentLimit == nil) != (g.CurrentLimit == nil) {
			fail("status %d: current limit present in one only", i)
		}
		if w.CurrentLimit == nil {
			continue
		}
		if w.CurrentLimit.RequestsPerUnit != g.CurrentLimit.RequestsPerUnit || w.CurrentLimit.Unit != g.CurrentLimit.Unit {
			fail("status %d: current limit differs", i)
		}
		if diff := w.DurationUntilReset.GetSeconds() - g.DurationUntilReset.GetSeconds(); diff < -1 || diff > 1 {
			fail("status %d: reset differs by %ds", i, diff)
		}
	}
}
