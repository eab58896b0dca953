package ratelimit_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit/ratelimittest"
)

// countingConn counts writes: go-redis writes each pipeline or command in
// one flush, so writes after the connection's handshake are round trips.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

func newRedisStore(t *testing.T, addr string, writes *atomic.Int64) *ratelimit.RedisStore {
	t.Helper()
	return newRedisStoreTimeout(t, addr, writes, 0)
}

// newRedisStoreTimeout is newRedisStore with RedisOptions.Timeout (0: the default).
func newRedisStoreTimeout(t *testing.T, addr string, writes *atomic.Int64, timeout time.Duration) *ratelimit.RedisStore {
	t.Helper()
	opts := ratelimit.RedisOptions{Addr: addr, Timeout: timeout, KeyPrefix: "t:" + strings.ReplaceAll(t.Name(), "/", ":") + ":"}
	if writes != nil {
		opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, writes}, nil
		}
	}
	s, err := ratelimit.NewRedisStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRedisStoreBehaviour(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	ratelimit.StoreSuite(t, func(t *testing.T) ratelimit.Store { return newRedisStore(t, r.Addr, nil) })
}

func TestRedisStoreErrorsFastAndRecovers(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	s := newRedisStore(t, r.Addr, nil)
	ctx := context.Background()
	op := []ratelimit.Op{{Key: "k", Addend: 1, TTL: time.Minute}}
	if err := s.Apply(ctx, op, make([]uint64, 1)); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	start := time.Now()
	if err := s.Apply(ctx, op, make([]uint64, 1)); err == nil {
		t.Fatal("Apply succeeded with Redis down")
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("error took %v", d)
	}
	r.Start()
	deadline := time.Now().Add(5 * time.Second)
	for s.Apply(ctx, op, make([]uint64, 1)) != nil {
		if time.Now().After(deadline) {
			t.Fatal("store did not recover within 5s of Redis restarting")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisOneRoundTripPerRequest(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	var writes atomic.Int64
	store := newRedisStore(t, r.Addr, &writes)
	svc, err := ratelimit.New(ratelimit.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	err = svc.Update(&ratelimit.Config{
		Domains: map[string]*ratelimit.Domain{"gatehouse/gw": {RateLimits: []string{"a", "b"}}},
		Limits: map[string]ratelimit.Limit{
			"a#0": {Requests: 10, Unit: ratelimit.Minute, Keys: []string{"consumer"}},
			"a#1": {Requests: 100, Unit: ratelimit.Hour, Keys: []string{"consumer", "route"}},
			"b#0": {Requests: 5, Unit: ratelimit.Second, Algorithm: ratelimit.SlidingWindow, Keys: []string{"remote_address"}},
		},
		Plans:        map[string]ratelimit.Plan{"gold": {Limits: []ratelimit.Rate{{Requests: 50, Unit: ratelimit.Second}}}},
		ConsumerPlan: map[string]string{"acme": "gold"},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := &rlsv3.RateLimitRequest{Domain: "gatehouse/gw", Descriptors: []*rlcommon.RateLimitDescriptor{
		entries("ratelimit", "a#0", "consumer", "acme"),
		entries("ratelimit", "a#1", "consumer", "acme", "route", "r"),
		entries("ratelimit", "b#0", "masked_remote_address", "127.0.0.1/32"),
		entries("plan", "acme"),
	}}
	ctx := context.Background()
	if _, err := svc.ShouldRateLimit(ctx, req); err != nil { // dials, loads the script
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		before := writes.Load()
		resp, err := svc.ShouldRateLimit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if n := writes.Load() - before; n != 1 {
			t.Fatalf("request %d took %d round trips to Redis, want 1", i+2, n)
		}
		if got := resp.Statuses[0].LimitRemaining; got != uint32(8-i) {
			t.Fatalf("request %d: a#0 remaining %d, want %d", i+2, got, 8-i)
		}
	}
}

func entries(kv ...string) *rlcommon.RateLimitDescriptor {
	d := &rlcommon.RateLimitDescriptor{}
	for i := 0; i < len(kv); i += 2 {
		d.Entries = append(d.Entries, &rlcommon.RateLimitDescriptor_Entry{Key: kv[i], Value: kv[i+1]})
	}
	return d
}

// TestRedisKeysAlwaysExpire checks that every counter key gets a TTL: on
// first use, and again when Redis lost the key without the store seeing an
// error (a restart between two requests, or an eviction).
func TestRedisKeysAlwaysExpire(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	s := newRedisStore(t, r.Addr, nil)
	raw := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer raw.Close()
	ctx := context.Background()
	prefix := "t:" + t.Name() + ":"
	ttlOf := func(key string) time.Duration {
		t.Helper()
		d, err := raw.PTTL(ctx, prefix+key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ops := []ratelimit.Op{{Key: "k", Addend: 1, TTL: time.Minute}}
	for i := 0; i < 3; i++ {
		if err := s.Apply(ctx, ops, make([]uint64, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if d := ttlOf("k"); d <= 0 || d > time.Minute {
		t.Fatalf("PTTL after first use = %v, want up to 1m", d)
	}
	if err := raw.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	counts := make([]uint64, 1)
	if err := s.Apply(ctx, ops, counts); err != nil {
		t.Fatal(err)
	}
	if counts[0] != 1 {
		t.Fatalf("count after the flush = %d, want 1", counts[0])
	}
	// The store sets that expiry after answering (off the caller's path),
	// so give it a moment on a loaded machine.
	deadline := time.Now().Add(2 * time.Second)
	for d := ttlOf("k"); d <= 0; d = ttlOf("k") {
		if time.Now().After(deadline) {
			t.Fatalf("PTTL of a key re-created after a flush = %v 2s later: it would never expire", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisPeekThenHitIsOneRoundTrip: a peek (Addend 0) does not mark a key
// as seen, so the first hit after it sends its PEXPIRE in the same pipeline
// and no repair round trip follows.
func TestRedisPeekThenHitIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	var writes atomic.Int64
	store := newRedisStore(t, r.Addr, &writes)
	ctx := context.Background()
	got := make([]uint64, 1)
	if err := store.Apply(ctx, []ratelimit.Op{{Key: "warm", Addend: 1, TTL: time.Minute}}, got); err != nil {
		t.Fatal(err)
	}
	if err := store.Apply(ctx, []ratelimit.Op{{Key: "k", TTL: time.Minute}}, got); err != nil || got[0] != 0 {
		t.Fatalf("peek = %d, %v", got[0], err)
	}
	before := writes.Load()
	if err := store.Apply(ctx, []ratelimit.Op{{Key: "k", Addend: 1, TTL: time.Minute}}, got); err != nil || got[0] != 1 {
		t.Fatalf("hit = %d, %v", got[0], err)
	}
	time.Sleep(200 * time.Millisecond) // a repair PEXPIRE would be sent by now
	if n := writes.Load() - before; n != 1 {
		t.Fatalf("the first hit after a peek took %d round trips, want 1", n)
	}
}
