package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tests that kill the gremlins survivors of the stores, the Redis URL and
// the Config check (docs/testing.md, "pkg/ratelimit, the stores and config").

func TestConfigRefusesLimitIDWithoutIndex(t *testing.T) {
	for _, id := range []string{"nohash", "#0", ""} {
		c := &Config{Limits: map[string]Limit{id: {Requests: 1, Unit: Second}}}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "<ratelimit-name>#<index>") {
			t.Errorf("limit id %q: Validate() = %v, want the id-form error", id, err)
		}
	}
}

func TestMemoryStoreDefaultBoundIsLarge(t *testing.T) {
	// MaxEntries 0 means the default (a million), not one counter a shard:
	// a tiny bound would evict live counters and reset them.
	s := NewMemoryStore(MemoryOptions{JanitorInterval: -1})
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		s.Apply(ctx, []Op{{Key: fmt.Sprint("k", i), Addend: 1, TTL: time.Hour}}, make([]uint64, 1))
	}
	if n := s.Len(); n != 1000 {
		t.Fatalf("default store holds %d of 1000 counters", n)
	}
}

func TestMemoryStoreCounterEndsExactlyAtExpiry(t *testing.T) {
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	s := NewMemoryStore(MemoryOptions{Clock: clock.Now, JanitorInterval: -1})
	defer s.Close()
	ctx := context.Background()
	got := make([]uint64, 1)
	s.Apply(ctx, []Op{{Key: "k", Addend: 5, TTL: time.Second}}, got)
	clock.Add(time.Second - 1)
	s.Apply(ctx, []Op{{Key: "k"}}, got)
	if got[0] != 5 {
		t.Fatalf("counter = %d one nanosecond before its expiry, want 5", got[0])
	}
	clock.Add(1)
	s.Apply(ctx, []Op{{Key: "k", Addend: 1, TTL: time.Second}}, got)
	if got[0] != 1 {
		t.Fatalf("counter = %d at its expiry, want a fresh count of 1", got[0])
	}
}

func TestMemoryStoreSweepDropsCounterAtExpiry(t *testing.T) {
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	s := NewMemoryStore(MemoryOptions{Clock: clock.Now, JanitorInterval: -1})
	defer s.Close()
	s.Apply(context.Background(), []Op{{Key: "k", Addend: 1, TTL: time.Second}}, make([]uint64, 1))
	clock.Add(time.Second)
	s.Sweep()
	if n := s.Len(); n != 0 {
		t.Fatalf("Len() = %d after a Sweep at the expiry, want 0", n)
	}
}

func TestMemoryStoreTouchKeepsShardCount(t *testing.T) {
	// Touching counters must not make a shard look fuller than it is: a
	// miscount would evict (reset) live counters under the bound.
	s := NewMemoryStore(MemoryOptions{MaxEntries: 4, Shards: 1, JanitorInterval: -1})
	defer s.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		s.Apply(ctx, []Op{{Key: k, Addend: 1, TTL: time.Hour}}, make([]uint64, 1))
	}
	for i := 0; i < 5; i++ {
		for _, k := range []string{"a", "b", "c"} {
			s.Apply(ctx, []Op{{Key: k, Addend: 1, TTL: time.Hour}}, make([]uint64, 1))
		}
	}
	s.Apply(ctx, []Op{{Key: "d", Addend: 1, TTL: time.Hour}}, make([]uint64, 1))
	got := make([]uint64, 3)
	s.Apply(ctx, []Op{{Key: "a"}, {Key: "b"}, {Key: "c"}}, got)
	if got[0] != 6 || got[1] != 6 || got[2] != 6 || s.Len() != 4 {
		t.Fatalf("counts %v, Len %d; want [6 6 6] and 4 (nothing evicted under the bound)", got, s.Len())
	}
}

func TestMemoryStoreFullShardDropsCounterExpiringNow(t *testing.T) {
	// The counter that expires exactly now is expired: a full shard drops
	// it rather than the least recently used live one.
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	s := NewMemoryStore(MemoryOptions{Clock: clock.Now, MaxEntries: 2, Shards: 1, JanitorInterval: -1})
	defer s.Close()
	ctx := context.Background()
	s.Apply(ctx, []Op{{Key: "live", Addend: 7, TTL: time.Hour}, {Key: "old", Addend: 1, TTL: time.Second}}, make([]uint64, 2))
	clock.Add(time.Second)
	s.Apply(ctx, []Op{{Key: "new", Addend: 1, TTL: time.Hour}}, make([]uint64, 1))
	got := make([]uint64, 1)
	s.Apply(ctx, []Op{{Key: "live"}}, got)
	if got[0] != 7 {
		t.Fatalf("live counter = %d, want 7 (the counter expiring now should have gone)", got[0])
	}
}

func TestRedactKeepsNoPasswordCharacter(t *testing.T) {
	for raw, want := range map[string]string{
		"redis://u:hunter2@a:1/3": "redis://xxx@a:1/3",
		"redis://:pw@a":           "redis://xxx@a",
		"redis://a:1":             "redis://a:1",
	} {
		if got := redact(raw); got != want {
			t.Errorf("redact(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestParseRedisURLEdgeForms(t *testing.T) {
	o, err := ParseRedisURL("redis://@a:1/0")
	if err != nil || o.Addr != "a:1" || o.Username != "" || o.DB != 0 {
		t.Fatalf("redis://@a:1/0 = %+v, %v; want Addr a:1, no user, DB 0", o, err)
	}
}

func TestRedisClientsNeverRetry(t *testing.T) {
	// A command retried after a timeout may count a request twice and
	// doubles the wait before failing open or closed: retries are off.
	for _, o := range []RedisOptions{
		{Mode: RedisSingle, Addr: "127.0.0.1:1"},
		{Mode: RedisCluster, Addrs: []string{"127.0.0.1:1"}},
		{Mode: RedisSentinel, Addrs: []string{"127.0.0.1:1"}, MasterName: "m"},
	} {
		c, _, err := newRedisClient(o)
		if err != nil {
			t.Fatalf("%s: %v", o.Mode, err)
		}
		var retries int
		switch c := c.(type) {
		case *redis.Client:
			retries = c.Options().MaxRetries
		case *redis.ClusterClient:
			retries = c.Options().MaxRetries
		}
		c.Close()
		// go-redis turns -1 into 0 in a Client's options, keeps it in a
		// ClusterClient's; 0 given would have become its default, 3.
		if retries > 0 {
			t.Errorf("%q: MaxRetries = %d, want none", o.Mode, retries)
		}
	}
}

func TestSentinelNeedsMasterName(t *testing.T) {
	if _, _, err := newRedisClient(RedisOptions{Mode: RedisSentinel, Addrs: []string{"127.0.0.1:1"}}); err == nil {
		t.Fatal("a sentinel client without MasterName was accepted")
	}
}

func TestRedisForgetClosesTheOldSeenStore(t *testing.T) {
	s := &RedisStore{}
	old := newSeen()
	s.seen.Store(old)
	s.forget()
	defer s.seen.Load().Close()
	select {
	case <-old.done:
	case <-time.After(5 * time.Second):
		t.Fatal("forget left the old seen store's janitor running")
	}
}

func TestRedisFailedExpireForgetsSeenKeys(t *testing.T) {
	// A PEXPIRE that did not reach Redis leaves a key without expiry: this
	// process must forget what it saw, so the next hit sends PEXPIRE again
	// (else the counter would never reset). A PEXPIRE that worked keeps it.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	s := &RedisStore{client: c}
	seen := newSeen()
	s.seen.Store(seen)
	defer func() { s.seen.Load().Close() }()
	s.expire(context.Background(), []string{"k"}, []time.Duration{time.Minute})
	if s.seen.Load() == seen {
		t.Fatal("a failed PEXPIRE kept the seen keys")
	}
}

func TestMemoryStoreDefaultStartsJanitor(t *testing.T) {
	s := NewMemoryStore(MemoryOptions{})
	defer s.Close()
	select {
	case <-s.done:
		t.Fatal("JanitorInterval 0 (the default) started no janitor")
	default:
	}
}
