package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit/ratelimittest"
)

const domain = "gatehouse/public"

func e2eConfig() *ratelimit.Config {
	return &ratelimit.Config{
		Domains: map[string]*ratelimit.Domain{domain: {RateLimits: []string{"per-consumer", "watch"}}},
		Limits: map[string]ratelimit.Limit{
			"per-consumer#0": {Requests: 100, Unit: ratelimit.Minute, Keys: []string{"consumer"}},
			"watch#0":        {Requests: 3, Unit: ratelimit.Minute, Shadow: true, Keys: []string{"remote_address"}},
		},
		Plans:        map[string]ratelimit.Plan{"trial": {Quota: &ratelimit.Rate{Requests: 20, Unit: ratelimit.Month}}},
		ConsumerPlan: map[string]string{"acme": "trial", "initech": "trial"},
	}
}

// TestEndToEndWithRedis drives the service over gRPC with the Redis store:
// exact limit, independent consumers, a plan quota, shadow mode, metrics.
func TestEndToEndWithRedis(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	g := startGatehouse(t, newRedisStore(t, r.Addr, "e2e:"), midWindow(), relaxed, e2eConfig())

	allowed := func(consumer string, n int) int {
		ok, rejected := 0, false
		for i := 0; i < n; i++ {
			if call(t, g.client, domain, 0, desc("ratelimit", "per-consumer#0", "consumer", consumer)).OverallCode != rlsv3.RateLimitResponse_OK {
				rejected = true
			} else if rejected {
				t.Fatalf("%s: request %d allowed after a rejection", consumer, i+1)
			} else {
				ok++
			}
		}
		return ok
	}
	if got := allowed("alice", 130); got != 100 {
		t.Fatalf("100/minute allowed %d of 130", got)
	}
	if got := allowed("bob", 100); got != 100 {
		t.Fatalf("bob allowed %d of 100 after alice used hers", got)
	}

	quota := func(consumer string, n int) (ok int) {
		for i := 0; i < n; i++ {
			if call(t, g.client, domain, 0, desc("plan", consumer)).OverallCode == rlsv3.RateLimitResponse_OK {
				ok++
			}
		}
		return ok
	}
	if got := quota("acme", 30); got != 20 {
		t.Fatalf("quota 20/month allowed %d of 30", got)
	}
	if got := quota("initech", 5); got != 5 {
		t.Fatalf("initech's quota is not independent: %d of 5", got)
	}
	if got := quota("anonymous", 30); got != 30 {
		t.Fatalf("anonymous (no plan) allowed %d of 30", got)
	}

	for i := 0; i < 10; i++ {
		resp := call(t, g.client, domain, 0, desc("ratelimit", "watch#0", "masked_remote_address", "192.0.2.1/32"))
		if resp.OverallCode != rlsv3.RateLimitResponse_OK {
			t.Fatalf("shadow request %d rejected", i+1)
		}
	}

	want := map[[2]string]float64{
		{"per-consumer#0", "ok"}:         200,
		{"per-consumer#0", "over_limit"}: 30,
		{"quota:trial", "ok"}:            25, // anonymous has no plan: not counted
		{"quota:trial", "over_limit"}:    10,
		{"watch#0", "ok"}:                3,
		{"watch#0", "shadow_over_limit"}: 7,
	}
	got := decisions(t, g)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("gatehouse_ratelimit_decisions_total{limit=%q,decision=%q} = %v, want %v", k[0], k[1], got[k], v)
		}
	}
	if n := histogramCount(t, g, "gatehouse_ratelimit_backend_duration_seconds"); n < 300 {
		t.Errorf("backend latency histogram has %d observations, want one per store call", n)
	}
}

func decisions(t *testing.T, g *gatehouse) map[[2]string]float64 {
	t.Helper()
	out := map[[2]string]float64{}
	for _, mf := range gather(t, g) {
		if mf.GetName() != "gatehouse_ratelimit_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["domain"] == domain {
				out[[2]string{l["limit"], l["decision"]}] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func gather(t *testing.T, g *gatehouse) []*dto.MetricFamily {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func histogramCount(t *testing.T, g *gatehouse, name string) uint64 {
	for _, mf := range gather(t, g) {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func counterValue(t *testing.T, g *gatehouse, name string) float64 {
	for _, mf := range gather(t, g) {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// TestRedisOutage kills Redis mid-run: every call fails with Unavailable
// within the 100ms timeout, so Envoy applies its failure mode, and the
// service recovers by itself once Redis is back.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	g := startGatehouse(t, newRedisStore(t, r.Addr, "outage:"), midWindow(), 0, e2eConfig())
	d := desc("ratelimit", "per-consumer#0", "consumer", "alice")
	for i := 0; i < 10; i++ {
		call(t, g.client, domain, 0, d)
	}
	// A hung Redis: connections stay open, nothing answers. Each call must
	// give up at the service's timeout (100ms) rather than wait.
	r.Pause()
	for i := 0; i < 5; i++ {
		start := time.Now()
		_, err := try(g.client, d)
		took := time.Since(start)
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("call %d with Redis hung: %v, want Unavailable", i+1, err)
		}
		if took < 90*time.Millisecond || took > 500*time.Millisecond {
			t.Fatalf("call %d with Redis hung answered after %v, want about the 100ms timeout", i+1, took)
		}
		t.Logf("call %d with Redis hung: Unavailable after %v", i+1, took)
	}
	r.Resume()
	r.Stop()
	var slowest time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		_, err := try(g.client, d)
		took := time.Since(start)
		slowest = max(slowest, took)
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("call %d with Redis down: %v, want Unavailable", i+1, err)
		}
		// The service's timeout is 100ms; allow for gRPC and a busy machine.
		if took > 500*time.Millisecond {
			t.Fatalf("call %d with Redis down took %v", i+1, took)
		}
	}
	t.Logf("slowest call with Redis down: %v (timeout 100ms)", slowest)
	if counterValue(t, g, "gatehouse_ratelimit_backend_errors_total") < 20 {
		t.Errorf("backend errors not counted")
	}
	r.Start() // an empty Redis: counters start again
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := try(g.client, d)
		if err == nil {
			if resp.OverallCode != rlsv3.RateLimitResponse_OK {
				t.Fatalf("after recovery: %v", resp)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within 5s of Redis restarting: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// try makes one call within callBound and returns what it got.
func try(c rlsv3.RateLimitServiceClient, d *rlcommon.RateLimitDescriptor) (*rlsv3.RateLimitResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callBound)
	defer cancel()
	return c.ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{Domain: domain, Descriptors: []*rlcommon.RateLimitDescriptor{d}})
}

// TestTwoReplicasShareOneLimit runs two services on one Redis with
// concurrent clients on each: together they allow exactly the limit.
func TestTwoReplicasShareOneLimit(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	clock := midWindow()
	a := startGatehouse(t, newRedisStore(t, r.Addr, "shared:"), clock, relaxed, e2eConfig())
	b := startGatehouse(t, newRedisStore(t, r.Addr, "shared:"), clock, relaxed, e2eConfig())
	var ok, over atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		g := a
		if w%2 == 1 {
			g = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), callBound)
				resp, err := g.client.ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{Domain: domain,
					Descriptors: []*rlcommon.RateLimitDescriptor{desc("ratelimit", "per-consumer#0", "consumer", "shared")}})
				cancel()
				if err != nil {
					t.Errorf("ShouldRateLimit: %v", err)
					return
				}
				if resp.OverallCode == rlsv3.RateLimitResponse_OK {
					ok.Add(1)
				} else {
					over.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 100 || over.Load() != 220 {
		t.Fatalf("two replicas allowed %d and rejected %d of 320 on a 100/minute limit", ok.Load(), over.Load())
	}
}
