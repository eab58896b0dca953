package ratelimit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	OK   = rlsv3.RateLimitResponse_OK
	OVER = rlsv3.RateLimitResponse_OVER_LIMIT
)

// t0 is 10s into a minute (and 10s into a day) of a known month.
var t0 = time.Date(2026, time.March, 14, 9, 30, 10, 0, time.UTC)

type harness struct {
	svc   *Service
	clock *fakeClock
	reg   *prometheus.Registry
}

func newHarness(t *testing.T, cfg *Config) *harness {
	t.Helper()
	clock := newFakeClock(t0)
	store := NewMemoryStore(MemoryOptions{Clock: clock.Now, JanitorInterval: -1})
	t.Cleanup(func() { store.Close() })
	reg := prometheus.NewRegistry()
	svc, err := New(Options{Store: store, Clock: clock.Now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(cfg); err != nil {
		t.Fatal(err)
	}
	return &harness{svc, clock, reg}
}

// desc builds a descriptor from key/value pairs.
func desc(kv ...string) *rlcommon.RateLimitDescriptor {
	d := &rlcommon.RateLimitDescriptor{}
	for i := 0; i < len(kv); i += 2 {
		d.Entries = append(d.Entries, &rlcommon.RateLimitDescriptor_Entry{Key: kv[i], Value: kv[i+1]})
	}
	return d
}

func (h *harness) call(t *testing.T, domain string, hits uint32, ds ...*rlcommon.RateLimitDescriptor) *rlsv3.RateLimitResponse {
	t.Helper()
	resp, err := h.svc.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: domain, Descriptors: ds, HitsAddend: hits})
	if err != nil {
		t.Fatalf("ShouldRateLimit: %v", err)
	}
	if len(resp.Statuses) != len(ds) {
		t.Fatalf("%d statuses for %d descriptors", len(resp.Statuses), len(ds))
	}
	return resp
}

// basicConfig lets per-consumer, sliding and the plans take any
// hits_addend (the tests use it to fill counters); shadowed takes 1.
func basicConfig() *Config {
	return &Config{
		Domains: map[string]*Domain{
			"gatehouse/public":   {RateLimits: []string{"per-consumer", "shadowed", "sliding"}, PlanMaxHits: MaxHitsAddend},
			"gatehouse/internal": {RateLimits: []string{"per-consumer"}, PlanMaxHits: MaxHitsAddend},
		},
		Limits: map[string]Limit{
			"per-consumer#0": {Requests: 100, Unit: Minute, Keys: []string{"consumer"}, MaxHits: MaxHitsAddend},
			"per-consumer#1": {Requests: 1000, Unit: Hour, Keys: []string{"consumer", "route"}, MaxHits: MaxHitsAddend},
			"shadowed#0":     {Requests: 2, Unit: Minute, Shadow: true, Keys: []string{"remote_address"}},
			"sliding#0":      {Requests: 100, Unit: Minute, Algorithm: SlidingWindow, Keys: []string{"consumer"}, MaxHits: MaxHitsAddend},
		},
		Plans: map[string]Plan{
			"gold":   {Limits: []Rate{{Requests: 5, Unit: Second}}, Quota: &Rate{Requests: 20, Unit: Month}},
			"bronze": {Limits: []Rate{{Requests: 1, Unit: Second}}},
		},
		ConsumerPlan: map[string]string{"acme": "gold", "initech": "gold", "tiny": "bronze"},
	}
}

func TestFixedWindowAllowsExactlyTheLimit(t *testing.T) {
	h := newHarness(t, basicConfig())
	d := desc("ratelimit", "per-consumer#0", "consumer", "alice")
	for i := 1; i <= 100; i++ {
		r := h.call(t, "gatehouse/public", 0, d)
		st := r.Statuses[0]
		if r.OverallCode != OK || st.Code != OK || st.LimitRemaining != uint32(100-i) {
			t.Fatalf("request %d: overall %v, status %v", i, r.OverallCode, st)
		}
		if st.CurrentLimit.GetRequestsPerUnit() != 100 || st.CurrentLimit.GetUnit() != rlsv3.RateLimitResponse_RateLimit_MINUTE {
			t.Fatalf("current limit %v", st.CurrentLimit)
		}
		if st.DurationUntilReset.GetSeconds() != 50 {
			t.Fatalf("reset in %v, want 50s", st.DurationUntilReset.AsDuration())
		}
	}
	r := h.call(t, "gatehouse/public", 0, d)
	if r.OverallCode != OVER || r.Statuses[0].Code != OVER || r.Statuses[0].LimitRemaining != 0 {
		t.Fatalf("request 101: %v", r)
	}
	// Other consumers are independent.
	if r := h.call(t, "gatehouse/public", 0, desc("ratelimit", "per-consumer#0", "consumer", "bob")); r.OverallCode != OK || r.Statuses[0].LimitRemaining != 99 {
		t.Fatalf("bob: %v", r)
	}
	// Counters are shared by every Gateway (domain) naming the RateLimit.
	if r := h.call(t, "gatehouse/internal", 0, d); r.OverallCode != OVER {
		t.Fatalf("alice on another gateway: %v", r)
	}
	// The next window starts afresh.
	h.clock.Set(t0.Truncate(time.Minute).Add(time.Minute))
	if r := h.call(t, "gatehouse/public", 0, d); r.OverallCode != OK || r.Statuses[0].LimitRemaining != 99 || r.Statuses[0].DurationUntilReset.GetSeconds() != 60 {
		t.Fatalf("next window: %v", r)
	}
	if got := testutil.ToFloat64(h.svc.metrics.decisions.WithLabelValues("gatehouse/public", "per-consumer#0", "over_limit")); got != 1 {
		t.Fatalf("over_limit decisions = %v, want 1", got)
	}
}

func TestHitsAddend(t *testing.T) {
	h := newHarness(t, basicConfig())
	d := desc("ratelimit", "per-consumer#0", "consumer", "alice")
	if r := h.call(t, "gatehouse/public", 60, d); r.Statuses[0].LimitRemaining != 40 {
		t.Fatalf("after 60: %v", r)
	}
	// A per-descriptor addend of 0 only checks.
	check := desc("ratelimit", "per-consumer#0", "consumer", "alice")
	check.HitsAddend = wrapperspb.UInt64(0)
	if r := h.call(t, "gatehouse/public", 0, check); r.OverallCode != OK || r.Statuses[0].LimitRemaining != 40 {
		t.Fatalf("check only: %v", r)
	}
	// The per-descriptor addend wins over the request's.
	d5 := desc("ratelimit", "per-consumer#0", "consumer", "alice")
	d5.HitsAddend = wrapperspb.UInt64(5)
	if r := h.call(t, "gatehouse/public", 50, d5); r.Statuses[0].LimitRemaining != 35 {
		t.Fatalf("per-descriptor 5: %v", r)
	}
	if r := h.call(t, "gatehouse/public", 36, d); r.OverallCode != OVER {
		t.Fatalf("36 more than 35 left: %v", r)
	}
}

func TestEveryLimitCountsEvenWhenAnotherRejects(t *testing.T) {
	h := newHarness(t, basicConfig())
	a := desc("ratelimit", "per-consumer#0", "consumer", "alice")
	b := desc("ratelimit", "per-consumer#1", "consumer", "alice", "route", "r1")
	h.call(t, "gatehouse/public", 100, a)
	r := h.call(t, "gatehouse/public", 0, a, b)
	if r.OverallCode != OVER || r.Statuses[0].Code != OVER || r.Statuses[1].Code != OK || r.Statuses[1].LimitRemaining != 999 {
		t.Fatalf("%v", r)
	}
	r = h.call(t, "gatehouse/public", 0, b)
	if r.Statuses[1-1].LimitRemaining != 998 {
		t.Fatalf("the rejected request was not counted against the other limit: %v", r)
	}
}

func TestShadowCountsButNeverRejects(t *testing.T) {
	h := newHarness(t, basicConfig())
	d := desc("ratelimit", "shadowed#0", "masked_remote_address", "10.0.0.1/32")
	for i := 0; i < 5; i++ {
		r := h.call(t, "gatehouse/public", 0, d)
		if r.OverallCode != OK || r.Statuses[0].Code != OK {
			t.Fatalf("request %d rejected in shadow mode: %v", i+1, r)
		}
		if i >= 2 && r.Statuses[0].LimitRemaining != 0 {
			t.Fatalf("request %d: remaining %d, want 0 (over the limit, reported)", i+1, r.Statuses[0].LimitRemaining)
		}
	}
	if got := testutil.ToFloat64(h.svc.metrics.decisions.WithLabelValues("gatehouse/public", "shadowed#0", "shadow_over_limit")); got != 3 {
		t.Fatalf("shadow_over_limit = %v, want 3", got)
	}
}

func TestSlidingWindowRemovesTheEdgeBurst(t *testing.T) {
	burst := func(algo Algorithm) (allowed int) {
		cfg := basicConfig()
		cfg.Limits["sliding#0"] = Limit{Requests: 100, Unit: Minute, Algorithm: algo, Keys: []string{"consumer"}}
		h := newHarness(t, cfg)
		d := desc("ratelimit", "sliding#0", "consumer", "alice")
		edge := t0.Truncate(time.Minute).Add(time.Minute)
		// 100 requests in the last second of a window, 100 in the first
		// second of the next: 200 within two seconds.
		for _, at := range []time.Time{edge.Add(-time.Second), edge} {
			h.clock.Set(at)
			for i := 0; i < 100; i++ {
				if h.call(t, "gatehouse/public", 0, d).OverallCode == OK {
					allowed++
				}
			}
		}
		return allowed
	}
	if got := burst(FixedWindow); got != 200 {
		t.Fatalf("fixed window allowed %d across the edge, want 200 (the burst the sliding window removes)", got)
	}
	if got := burst(SlidingWindow); got > 102 {
		t.Fatalf("sliding window allowed %d within two seconds, want about 100", got)
	}
	// Half a window later the previous window weighs half: about 50 more.
	cfg := basicConfig()
	h := newHarness(t, cfg)
	d := desc("ratelimit", "sliding#0", "consumer", "alice")
	start := t0.Truncate(time.Minute)
	h.clock.Set(start)
	h.call(t, "gatehouse/public", 100, d)
	h.clock.Set(start.Add(90 * time.Second))
	r := h.call(t, "gatehouse/public", 0, d)
	if r.OverallCode != OK || r.Statuses[0].LimitRemaining != 49 {
		t.Fatalf("half a window later: %v (want 49 left: 100 - 50 weighted - 1)", r)
	}
}

func TestPlanLimitsAndMonthlyQuota(t *testing.T) {
	h := newHarness(t, basicConfig())
	p := desc("plan", "acme")
	allowed := 0
	// 5/second: 10 calls per second for 4 seconds, then the 20/month quota.
	for s := 0; s < 4; s++ {
		h.clock.Set(t0.Add(time.Duration(s) * time.Second))
		for i := 0; i < 10; i++ {
			r := h.call(t, "gatehouse/public", 0, p)
			if r.OverallCode == OK {
				allowed++
			}
		}
		if allowed != 5*(s+1) {
			t.Fatalf("second %d: %d allowed in total, want %d", s, allowed, 5*(s+1))
		}
	}
	// 20 allowed: the quota is used up although 40 requests were made,
	// because it counts only allowed requests.
	h.clock.Set(t0.Add(10 * time.Second))
	r := h.call(t, "gatehouse/public", 0, p)
	st := r.Statuses[0]
	if r.OverallCode != OVER || st.CurrentLimit.GetUnit() != rlsv3.RateLimitResponse_RateLimit_MONTH || st.CurrentLimit.GetRequestsPerUnit() != 20 {
		t.Fatalf("after the quota: %v", r)
	}
	// Another consumer on the same plan has its own quota.
	if r := h.call(t, "gatehouse/public", 0, desc("plan", "initech")); r.OverallCode != OK {
		t.Fatalf("initech: %v", r)
	}
	// The quota is the calendar month in UTC: April starts afresh.
	h.clock.Set(time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC))
	if r := h.call(t, "gatehouse/public", 0, p); r.OverallCode != OK {
		t.Fatalf("new month: %v", r)
	}
	// The status's reset is the end of the month when the quota is the tightest.
	h.clock.Set(time.Date(2026, time.April, 30, 23, 59, 0, 0, time.UTC))
	for i := 0; i < 19; i++ {
		h.clock.Add(time.Second)
		if r := h.call(t, "gatehouse/public", 0, p); r.OverallCode != OK {
			t.Fatalf("April request %d: %v", i+2, r)
		}
	}
	h.clock.Add(time.Second)
	r = h.call(t, "gatehouse/public", 0, p)
	if r.OverallCode != OVER || r.Statuses[0].DurationUntilReset.GetSeconds() != 40 {
		t.Fatalf("end of April: %v", r)
	}
}

func TestQuotaNotCountedWhenAnotherLimitRejects(t *testing.T) {
	h := newHarness(t, basicConfig())
	a := desc("ratelimit", "per-consumer#0", "consumer", "acme")
	h.call(t, "gatehouse/public", 100, a)
	for i := 0; i < 3; i++ {
		h.clock.Add(time.Second)
		if r := h.call(t, "gatehouse/public", 0, a, desc("plan", "acme")); r.OverallCode != OVER {
			t.Fatalf("%v", r)
		}
	}
	h.clock.Set(t0.Add(2 * time.Minute))
	r := h.call(t, "gatehouse/public", 0, desc("plan", "acme"))
	// Tightest status is the plan's 5/second limit (4 left), not the quota (19 left).
	if r.OverallCode != OK || r.Statuses[0].LimitRemaining != 4 {
		t.Fatalf("%v", r)
	}
	for i := 0; i < 19; i++ {
		h.clock.Add(time.Second)
		if r := h.call(t, "gatehouse/public", 0, desc("plan", "acme")); r.OverallCode != OK {
			t.Fatalf("request %d: %v", i+2, r)
		}
	}
	h.clock.Add(time.Second)
	if r := h.call(t, "gatehouse/public", 0, desc("plan", "acme")); r.OverallCode != OVER {
		t.Fatalf("the 20th allowed request should have exhausted the quota: %v", r)
	}
}

func TestNoPlanMeansNoPlanLimits(t *testing.T) {
	h := newHarness(t, basicConfig())
	for _, c := range []string{"anonymous", "nobody"} {
		for i := 0; i < 10; i++ {
			r := h.call(t, "gatehouse/public", 0, desc("plan", c))
			if r.OverallCode != OK || r.Statuses[0].CurrentLimit != nil {
				t.Fatalf("%s: %v", c, r)
			}
		}
	}
}

func TestUnknownAndOversizedInputIsAllowed(t *testing.T) {
	h := newHarness(t, basicConfig())
	ignored := func(reason string) float64 {
		return testutil.ToFloat64(h.svc.metrics.ignored.WithLabelValues(reason))
	}
	cases := []struct {
		name, domain, reason string
		d                    *rlcommon.RateLimitDescriptor
	}{
		{"unknown domain", "gatehouse/nope", "unknown_domain", desc("ratelimit", "per-consumer#0", "consumer", "a")},
		{"unknown limit", "gatehouse/public", "unknown_limit", desc("ratelimit", "per-consumer#9", "consumer", "a")},
		{"limit of another gateway", "gatehouse/internal", "unknown_limit", desc("ratelimit", "shadowed#0", "masked_remote_address", "a")},
		{"wrong key", "gatehouse/public", "key_mismatch", desc("ratelimit", "per-consumer#0", "route", "a")},
		{"missing key", "gatehouse/public", "key_mismatch", desc("ratelimit", "per-consumer#0")},
		{"unknown descriptor", "gatehouse/public", "unknown_descriptor", desc("generic_key", "x")},
		{"empty descriptor", "gatehouse/public", "empty_descriptor", desc()},
		{"too many entries", "gatehouse/public", "too_many_entries", desc("ratelimit", "per-consumer#0",
			"a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "h", "8",
			"i", "9", "j", "10", "k", "11", "l", "12", "m", "13", "n", "14", "o", "15", "p", "16")},
	}
	for _, c := range cases {
		before := ignored(c.reason)
		for i := 0; i < 3; i++ {
			r := h.call(t, c.domain, 1000, c.d)
			if r.OverallCode != OK || r.Statuses[0].Code != OK || r.Statuses[0].CurrentLimit != nil {
				t.Fatalf("%s: %v", c.name, r)
			}
		}
		if got := ignored(c.reason) - before; got != 3 {
			t.Fatalf("%s: %s counter rose by %v, want 3", c.name, c.reason, got)
		}
	}
	// Only the first 16 descriptors count.
	var ds []*rlcommon.RateLimitDescriptor
	for i := 0; i < 20; i++ {
		ds = append(ds, desc("ratelimit", "per-consumer#0", "consumer", "many"))
	}
	r := h.call(t, "gatehouse/public", 0, ds...)
	if r.Statuses[15].LimitRemaining != 84 || r.Statuses[16].CurrentLimit != nil {
		t.Fatalf("capped: status 15 %v, status 16 %v", r.Statuses[15], r.Statuses[16])
	}
	if got := ignored("too_many_descriptors"); got != 4 {
		t.Fatalf("too_many_descriptors = %v, want 4", got)
	}
}

func TestInvalidUpdateKeepsPreviousLimits(t *testing.T) {
	h := newHarness(t, basicConfig())
	bad := basicConfig()
	bad.Limits["per-consumer#0"] = Limit{Requests: 0, Unit: "fortnight"}
	bad.ConsumerPlan["x"] = "platinum"
	err := h.svc.Update(bad)
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"requests must be positive", "fortnight", "platinum"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
	if r := h.call(t, "gatehouse/public", 101, desc("ratelimit", "per-consumer#0", "consumer", "a")); r.OverallCode != OVER {
		t.Fatalf("previous limit not in force: %v", r)
	}
	// A valid update that drops the RateLimit stops enforcing it.
	if err := h.svc.Update(&Config{Domains: map[string]*Domain{"gatehouse/public": {}}}); err != nil {
		t.Fatal(err)
	}
	if r := h.call(t, "gatehouse/public", 101, desc("ratelimit", "per-consumer#0", "consumer", "a")); r.OverallCode != OK {
		t.Fatalf("removed limit still enforced: %v", r)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// stuckStore never answers before its context ends.
type stuckStore struct{}

func (stuckStore) Apply(ctx context.Context, _ []Op, _ []uint64) error {
	<-ctx.Done()
	return ctx.Err()
}
func (stuckStore) Close() error { return nil }

type failingStore struct{}

func (failingStore) Apply(context.Context, []Op, []uint64) error { return errors.New("boom") }
func (failingStore) Close() error                                { return nil }

func TestStoreFailureIsUnavailableWithinTimeout(t *testing.T) {
	for _, store := range []Store{stuckStore{}, failingStore{}} {
		reg := prometheus.NewRegistry()
		svc, err := New(Options{Store: store, Timeout: 30 * time.Millisecond, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Update(basicConfig()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = svc.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: "gatehouse/public",
			Descriptors: []*rlcommon.RateLimitDescriptor{desc("ratelimit", "per-consumer#0", "consumer", "a")}})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("%T: err %v, want Unavailable", store, err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("%T: answered after %v with a 30ms timeout", store, d)
		}
		if got := testutil.ToFloat64(svc.metrics.backendErrors); got != 1 {
			t.Fatalf("backend errors = %v", got)
		}
		// Nothing to count: no store call, no error.
		if _, err := svc.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: "gatehouse/nope",
			Descriptors: []*rlcommon.RateLimitDescriptor{desc("x", "y")}}); err != nil {
			t.Fatalf("unknown domain with a broken store: %v", err)
		}
	}
}

func TestWindowsAlignToUnitsAndCalendarMonths(t *testing.T) {
	at := time.Date(2026, time.February, 28, 23, 59, 59, 500_000_000, time.UTC)
	cases := []struct {
		u          Unit
		start, end string
	}{
		{Second, "2026-02-28T23:59:59Z", "2026-03-01T00:00:00Z"},
		{Minute, "2026-02-28T23:59:00Z", "2026-03-01T00:00:00Z"},
		{Hour, "2026-02-28T23:00:00Z", "2026-03-01T00:00:00Z"},
		{Day, "2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z"},
		{Month, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
	}
	for _, c := range cases {
		w := windowAt(c.u, at)
		if got := w.start.UTC().Format(time.RFC3339); got != c.start {
			t.Errorf("%s start %s, want %s", c.u, got, c.start)
		}
		if got := w.end.UTC().Format(time.RFC3339); got != c.end {
			t.Errorf("%s end %s, want %s", c.u, got, c.end)
		}
	}
	if p := windowAt(Month, time.Date(2026, time.March, 31, 12, 0, 0, 0, time.UTC)).previous(Month); p.start.Month() != time.February || p.end.Day() != 1 {
		t.Errorf("previous of March: %v", p)
	}
	// A non-UTC clock gives the same UTC calendar month.
	tz := time.FixedZone("x", 5*3600)
	if w := windowAt(Month, time.Date(2026, time.April, 1, 2, 0, 0, 0, tz)); w.start.Month() != time.March {
		t.Errorf("April 1st 02:00+05:00 is March in UTC, got %v", w.start)
	}
}
