package ratelimit

import (
	"context"
	"fmt"
	"testing"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkServiceMemory is the service's own cost per request (two
// descriptors, memory store), without gRPC.
func BenchmarkServiceMemory(b *testing.B) {
	store := NewMemoryStore(MemoryOptions{})
	defer store.Close()
	svc, err := New(Options{Store: store, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	err = svc.Update(&Config{
		Domains: map[string]*Domain{"gatehouse/bench": {RateLimits: []string{"per-consumer", "per-route"}}},
		Limits: map[string]Limit{
			"per-consumer#0": {Requests: 1 << 30, Unit: Minute, Keys: []string{"consumer"}},
			"per-route#0":    {Requests: 1 << 30, Unit: Hour, Keys: []string{"consumer", "route"}},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]*rlsv3.RateLimitRequest, 100)
	for i := range reqs {
		c := fmt.Sprint("c", i)
		reqs[i] = &rlsv3.RateLimitRequest{Domain: "gatehouse/bench", Descriptors: []*rlcommon.RateLimitDescriptor{
			desc("ratelimit", "per-consumer#0", "consumer", c),
			desc("ratelimit", "per-route#0", "consumer", c, "route", "r1"),
		}}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.ShouldRateLimit(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
	}
}
