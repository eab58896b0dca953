package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"
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
