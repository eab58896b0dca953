package ratelimit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// faultStore wraps a Store: calls for which fail returns an error fail
// without reaching the store. It records every call's operations.
type faultStore struct {
	Store
	fail func(ops []Op) error

	mu    sync.Mutex
	calls [][]Op
}

func (f *faultStore) Apply(ctx context.Context, ops []Op, counts []uint64) error {
	f.mu.Lock()
	f.calls = append(f.calls, append([]Op(nil), ops...))
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(ops); err != nil {
			return err
		}
	}
	return f.Store.Apply(ctx, ops, counts)
}

func (f *faultStore) ncalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// quotaWritesFail fails every call that increments a quota counter (key
// kind 'q'), as a store that reads but refuses writes would.
func quotaWritesFail(ops []Op) error {
	for _, op := range ops {
		if strings.HasPrefix(op.Key, "q:") && op.Addend > 0 {
			return errors.New("injected: quota write refused")
		}
	}
	return nil
}

func newFaultService(t *testing.T, fail func([]Op) error) (*Service, *faultStore, *fakeClock) {
	t.Helper()
	clock := newFakeClock(t0)
	mem := NewMemoryStore(MemoryOptions{Clock: clock.Now, JanitorInterval: -1})
	t.Cleanup(func() { mem.Close() })
	fs := &faultStore{Store: mem, fail: fail}
	svc, err := New(Options{Store: fs, Clock: clock.Now, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(basicConfig()); err != nil {
		t.Fatal(err)
	}
	return svc, fs, clock
}

func rl(svc *Service, ds ...*rlcommon.RateLimitDescriptor) (*rlsv3.RateLimitResponse, error) {
	return svc.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: ds})
}

// A quota whose increment fails must not answer OK: that would let the
// request through uncounted on every route, fail-closed ones included, and
// with a store that reads but refuses writes the quota would never run out.
func TestQuotaRecordingFailureIsUnavailable(t *testing.T) {
	svc, fs, _ := newFaultService(t, quotaWritesFail)
	resp, err := rl(svc, desc("plan", "acme"))
	if status.Code(err) != codes.Unavailable || resp != nil {
		t.Fatalf("quota write failed: got %v, %v; want Unavailable and no response", resp, err)
	}
	if !strings.Contains(err.Error(), "recording quota") || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("error %q does not say the quota could not be recorded and why", err)
	}
	if got := testutil.ToFloat64(svc.metrics.backendErrors); got != 1 {
		t.Fatalf("backend errors = %v, want 1", got)
	}
	if n := fs.ncalls(); n != 2 {
		t.Fatalf("%d store calls, want 2 (read, then the quota increment)", n)
	}

	// A consumer whose plan has no quota never needs the second call.
	if r, err := rl(svc, desc("plan", "tiny")); err != nil || r.OverallCode != OK {
		t.Fatalf("plan without quota: %v, %v", r, err)
	}
	// A request another limit rejects records no quota, so the failing
	// write is never tried: the answer is OVER_LIMIT, not an error.
	over := desc("ratelimit", "per-consumer#0", "consumer", "acme")
	for i := 0; i < 100; i++ {
		if _, err := rl(svc, over); err != nil {
			t.Fatal(err)
		}
	}
	before := fs.ncalls()
	r, err := rl(svc, over, desc("plan", "acme"))
	if err != nil || r.OverallCode != OVER {
		t.Fatalf("over another limit: %v, %v; want OVER_LIMIT", r, err)
	}
	if n := fs.ncalls() - before; n != 1 {
		t.Fatalf("%d store calls for a rejected request, want 1", n)
	}
}

// Once the store takes writes again the quota counts as before: the
// requests whose increment failed were not recorded (they were answered
// with an error, and Envoy's failure mode decided them).
func TestQuotaCountsAgainAfterRecordingFailures(t *testing.T) {
	var broken bool
	var mu sync.Mutex
	svc, _, clock := newFaultService(t, func(ops []Op) error {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return quotaWritesFail(ops)
		}
		return nil
	})
	setBroken := func(b bool) { mu.Lock(); broken = b; mu.Unlock() }
	// gold: 5/second and 20/month. One second per request keeps the
	// per-second limit out of the way.
	allowed := 0
	for i := 0; i < 30; i++ {
		clock.Add(1e9)
		setBroken(i%3 == 0) // every third request's quota write fails
		r, err := rl(svc, desc("plan", "acme"))
		switch {
		case i%3 == 0 && allowed < 20:
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("request %d: %v, %v; want Unavailable", i, r, err)
			}
		case err != nil:
			t.Fatalf("request %d: %v", i, err)
		case r.OverallCode == OK:
			allowed++
		}
	}
	if allowed != 20 {
		t.Fatalf("%d requests answered OK, want exactly the quota (20)", allowed)
	}
}

// Plan descriptors Envoy would never send (the translator's action always
// sends one entry, "anonymous" by default) are ignored: answered OK, no
// counter read or written, counted by reason. They must not apply, or
// spend, another consumer's plan, nor hide a limit in another descriptor.
func TestMalformedPlanDescriptors(t *testing.T) {
	cases := []struct {
		name, reason string
		d            *rlcommon.RateLimitDescriptor
	}{
		{"empty consumer", "empty_consumer", desc("plan", "")},
		{"extra entry after the consumer", "key_mismatch", desc("plan", "acme", "consumer", "acme")},
		{"two plan entries", "key_mismatch", desc("plan", "acme", "plan", "acme")},
		{"plan entry not first", "unknown_descriptor", desc("consumer", "acme", "plan", "acme")},
		{"plan key in another case", "unknown_descriptor", desc("Plan", "acme")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, fs, _ := newFaultService(t, nil)
			for i := 0; i < 10; i++ {
				r, err := rl(svc, c.d)
				if err != nil || r.OverallCode != OK || r.Statuses[0].CurrentLimit != nil {
					t.Fatalf("call %d: %v, %v; want OK with no limit", i, r, err)
				}
			}
			if n := fs.ncalls(); n != 0 {
				t.Fatalf("%d store calls for an ignored descriptor", n)
			}
			if got := testutil.ToFloat64(svc.metrics.ignored.WithLabelValues(c.reason)); got != 10 {
				t.Fatalf("ignored{reason=%q} = %v, want 10", c.reason, got)
			}
			// acme's plan is untouched: exactly 5 of 10 in one second.
			allowed := 0
			for i := 0; i < 10; i++ {
				if r, err := rl(svc, desc("plan", "acme")); err == nil && r.OverallCode == OK {
					allowed++
				}
			}
			if allowed != 5 {
				t.Fatalf("acme allowed %d of 10 after the malformed calls, want 5", allowed)
			}
			// Beside a limit that is over, the malformed descriptor hides nothing.
			over := desc("ratelimit", "per-consumer#0", "consumer", "bob")
			for i := 0; i < 100; i++ {
				rl(svc, over)
			}
			r, err := rl(svc, c.d, over)
			if err != nil || r.OverallCode != OVER || r.Statuses[0].Code != OK || r.Statuses[1].Code != OVER {
				t.Fatalf("with a limit over: %v, %v", r, err)
			}
		})
	}
	// A consumer with no plan (anonymous callers, or one the config does not
	// know) is not malformed: no plan limits, nothing counted as ignored.
	svc, fs, _ := newFaultService(t, nil)
	for _, c := range []string{"anonymous", "nobody", strings.Repeat("x", 4096)} {
		if r, err := rl(svc, desc("plan", c)); err != nil || r.OverallCode != OK || r.Statuses[0].CurrentLimit != nil {
			t.Fatalf("consumer %.10q: %v, %v", c, r, err)
		}
	}
	if n := fs.ncalls(); n != 0 {
		t.Fatalf("%d store calls for consumers without a plan", n)
	}
}
