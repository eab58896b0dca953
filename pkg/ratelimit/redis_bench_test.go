package ratelimit_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit/ratelimittest"
)

// BenchmarkRedisStoreApply is one request's store call (two counters) from
// concurrent callers: the Redis round trip and script cost alone.
func BenchmarkRedisStoreApply(b *testing.B) {
	r := ratelimittest.StartRedis(b)
	s, err := ratelimit.NewRedisStore(ratelimit.RedisOptions{Addr: r.Addr, Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		counts := make([]uint64, 2)
		for pb.Next() {
			i := n.Add(1)
			ops := []ratelimit.Op{
				{Key: fmt.Sprint("a", i%100), Addend: 1, TTL: time.Minute},
				{Key: fmt.Sprint("b", i%100), Addend: 1, TTL: time.Hour},
			}
			if err := s.Apply(context.Background(), ops, counts); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
