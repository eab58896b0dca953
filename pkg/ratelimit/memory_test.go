package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
	"unsafe"
)

func TestMemoryStoreIsBounded(t *testing.T) {
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	s := NewMemoryStore(MemoryOptions{Clock: clock.Now, MaxEntries: 64, Shards: 4, JanitorInterval: -1})
	defer s.Close()
	for i := 0; i < 1000; i++ {
		if err := s.Apply(context.Background(), []Op{{Key: fmt.Sprint("k", i), Addend: 1, TTL: time.Hour}}, make([]uint64, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n > 64 {
		t.Fatalf("store holds %d counters, bound is 64", n)
	}
}

func TestMemoryStoreFullShardDropsExpiredFirst(t *testing.T) {
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	s := NewMemoryStore(MemoryOptions{Clock: clock.Now, MaxEntries: 2, Shards: 1, JanitorInterval: -1})
	defer s.Close()
	ctx := context.Background()
	s.Apply(ctx, []Op{{Key: "live", Addend: 7, TTL: time.Hour}, {Key: "old", Addend: 1, TTL: time.Second}}, make([]uint64, 2))
	clock.Add(2 * time.Second)
	s.Apply(ctx, []Op{{Key: "new", Addend: 1, TTL: time.Hour}}, make([]uint64, 1))
	got := make([]uint64, 1)
	s.Apply(ctx, []Op{{Key: "live"}}, got)
	if got[0] != 7 {
		t.Fatalf("live counter = %d after eviction, want 7 (the expired one should have gone)", got[0])
	}
}

func TestMemoryStoreJanitorSweeps(t *testing.T) {
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	s := NewMemoryStore(MemoryOptions{Clock: clock.Now, JanitorInterval: 5 * time.Millisecond})
	defer s.Close()
	s.Apply(context.Background(), []Op{{Key: "a", Addend: 1, TTL: time.Second}, {Key: "b", Addend: 1, TTL: time.Hour}}, make([]uint64, 2))
	clock.Add(time.Minute)
	deadline := time.Now().Add(2 * time.Second)
	for s.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("janitor left %d counters, want 1", s.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCounterKeysDoNotCollide(t *testing.T) {
	cases := [][]string{
		{"rl#0", "a:b", "c"},
		{"rl#0", "a", "b:c"},
		{"rl#0", "a@1", ""},
		{"rl#0", "a", "@1"},
		{"rl#0", "1:a"},
		{"rl#0", "", "a"},
		{"rl#0", "a", ""},
		{"rl#0", "x" + string(make([]byte, 300))},
		{"rl#0", "y" + string(make([]byte, 300))},
	}
	seen := map[string][]string{}
	for _, c := range cases {
		k := counterKey('r', c, 60)
		if prev, dup := seen[k]; dup {
			t.Fatalf("%q and %q share key %q", prev, c, k)
		}
		seen[k] = c
		if len(k) > maxPlainKey+16 {
			t.Fatalf("key for %q is %d bytes long", c, len(k))
		}
	}
	if counterKey('r', []string{"a"}, 60) == counterKey('p', []string{"a"}, 60) {
		t.Fatal("key kinds share a key space")
	}
	if counterKey('r', []string{"a"}, 60) == counterKey('r', []string{"a"}, 120) {
		t.Fatal("windows share a key")
	}
}

// A full shard must never drop a pinned counter (plan limits, quotas):
// dropping one gives the consumer its allowance again.
func TestMemoryStoreNeverEvictsPinnedCounters(t *testing.T) {
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	s := NewMemoryStore(MemoryOptions{Clock: clock.Now, MaxEntries: 8, Shards: 1, JanitorInterval: -1})
	defer s.Close()
	ctx := context.Background()
	s.Apply(ctx, []Op{{Key: "quota", Addend: 1000, TTL: time.Hour, Pinned: true}}, make([]uint64, 1))
	for i := 0; i < 10_000; i++ {
		s.Apply(ctx, []Op{{Key: fmt.Sprint("flood", i), Addend: 1, TTL: time.Hour}}, make([]uint64, 1))
	}
	got := make([]uint64, 1)
	s.Apply(ctx, []Op{{Key: "quota"}}, got)
	if got[0] != 1000 {
		t.Fatalf("pinned counter = %d after a flood of new keys, want 1000", got[0])
	}
	if n := s.Len(); n > 8+1 {
		t.Fatalf("store holds %d counters, bound is 8 evictable + 1 pinned", n)
	}
}

// The least recently used counter goes first: a counter in use survives a
// flood that passes through the shard, as long as it is touched.
func TestMemoryStoreEvictsLeastRecentlyUsed(t *testing.T) {
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	s := NewMemoryStore(MemoryOptions{Clock: clock.Now, MaxEntries: 4, Shards: 1, JanitorInterval: -1})
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		s.Apply(ctx, []Op{{Key: "hot", Addend: 1, TTL: time.Hour}, {Key: fmt.Sprint("cold", i), Addend: 1, TTL: time.Hour}}, make([]uint64, 2))
	}
	got := make([]uint64, 1)
	s.Apply(ctx, []Op{{Key: "hot"}}, got)
	if got[0] != 100 {
		t.Fatalf("hot counter = %d, want 100", got[0])
	}
}

// A full shard of live counters makes room in constant time: the old store
// scanned the whole shard on every insert, so a flood of new keys made
// each decision slower as the shard grew (1 shard of 100k: about a
// millisecond per insert). The bound is generous for a shared machine.
func TestMemoryStoreFullShardInsertIsConstantTime(t *testing.T) {
	if testing.Short() {
		t.Skip("floods 300k keys")
	}
	const size = 100_000
	s := NewMemoryStore(MemoryOptions{MaxEntries: size, Shards: 1, JanitorInterval: -1})
	defer s.Close()
	ctx := context.Background()
	counts := make([]uint64, 1)
	for i := 0; i < size; i++ {
		s.Apply(ctx, []Op{{Key: fmt.Sprint("fill", i), Addend: 1, TTL: time.Hour}}, counts)
	}
	const flood = 20_000
	lat := make([]time.Duration, flood)
	for i := range lat {
		start := time.Now()
		s.Apply(ctx, []Op{{Key: fmt.Sprint("flood", i), Addend: 1, TTL: time.Hour}}, counts)
		lat[i] = time.Since(start)
	}
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	t.Logf("insert into a full shard of %d live counters: p50 %v, p99 %v", size, lat[len(lat)/2], p99)
	if p99 > 200*time.Microsecond {
		t.Fatalf("p99 insert into a full shard = %v, want under 200µs (eviction must not scan the shard)", p99)
	}
}

// Shards fill whole cache lines, so two never share one.
func TestMemShardFillsCacheLines(t *testing.T) {
	if n := unsafe.Sizeof(memShard{}); n%cacheLine != 0 {
		t.Fatalf("memShard is %d bytes, not a multiple of %d", n, cacheLine)
	}
}
