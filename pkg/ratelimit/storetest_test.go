package ratelimit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

// StoreSuite is the behaviour every Store must have. newStore returns a
// fresh, empty store whose expiry follows the given clock where the store
// can (memory); Redis expires by its own clock, so TTL cases use real time.
func StoreSuite(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	apply := func(t *testing.T, s Store, ops ...Op) []uint64 {
		t.Helper()
		counts := make([]uint64, len(ops))
		if err := s.Apply(ctx, ops, counts); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		return counts
	}
	t.Run("increments and reads", func(t *testing.T) {
		s := newStore(t)
		got := apply(t, s, Op{Key: "a", Addend: 1, TTL: time.Minute}, Op{Key: "b", Addend: 5, TTL: time.Minute}, Op{Key: "c"})
		if fmt.Sprint(got) != "[1 5 0]" {
			t.Fatalf("got %v, want [1 5 0]", got)
		}
		got = apply(t, s, Op{Key: "a", Addend: 2, TTL: time.Minute}, Op{Key: "b"}, Op{Key: "a"})
		if fmt.Sprint(got) != "[3 5 3]" {
			t.Fatalf("got %v, want [3 5 3]", got)
		}
	})
	t.Run("same key twice in one call", func(t *testing.T) {
		s := newStore(t)
		got := apply(t, s, Op{Key: "k", Addend: 1, TTL: time.Minute}, Op{Key: "k", Addend: 1, TTL: time.Minute})
		if fmt.Sprint(got) != "[1 2]" {
			t.Fatalf("got %v, want [1 2]", got)
		}
	})
	t.Run("counters expire", func(t *testing.T) {
		s := newStore(t)
		apply(t, s, Op{Key: "short", Addend: 3, TTL: 50 * time.Millisecond}, Op{Key: "long", Addend: 3, TTL: time.Minute})
		advance(s, 200*time.Millisecond)
		deadline := time.Now().Add(2 * time.Second)
		for {
			got := apply(t, s, Op{Key: "short"}, Op{Key: "long"})
			if got[0] == 0 && got[1] == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the TTL got %v, want [0 3]", got)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A new counter under the expired key starts from zero.
		if got := apply(t, s, Op{Key: "short", Addend: 1, TTL: time.Minute}); got[0] != 1 {
			t.Fatalf("re-created counter = %d, want 1", got[0])
		}
	})
	t.Run("concurrent increments are not lost", func(t *testing.T) {
		s := newStore(t)
		const workers, each = 8, 50
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if err := s.Apply(ctx, []Op{{Key: "shared", Addend: 1, TTL: time.Minute}}, make([]uint64, 1)); err != nil {
						t.Errorf("Apply: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if got := apply(t, s, Op{Key: "shared"}); got[0] != workers*each {
			t.Fatalf("count = %d, want %d", got[0], workers*each)
		}
	})
	t.Run("counters saturate, never wrap", func(t *testing.T) {
		s := newStore(t)
		first := apply(t, s, Op{Key: "huge", Addend: math.MaxUint64, TTL: time.Minute})[0]
		// Redis counts in int64: its ceiling is MaxInt64.
		if first < math.MaxInt64 {
			t.Fatalf("counter after a huge addend = %d, want at least MaxInt64", first)
		}
		for _, add := range []uint64{1, 5, math.MaxUint64} {
			got := apply(t, s, Op{Key: "huge", Addend: add, TTL: time.Minute})[0]
			if got < first {
				t.Fatalf("counter went from %d down to %d after adding %d: it wrapped", first, got, add)
			}
		}
	})
	t.Run("cancelled context fails", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Apply(cctx, []Op{{Key: "x", Addend: 1, TTL: time.Minute}}, make([]uint64, 1)); err == nil {
			t.Fatal("Apply with a cancelled context succeeded")
		}
	})
}

// advancer is a store whose clock a test can move (memory with a fake clock).
type advancer interface{ advance(time.Duration) }

func advance(s Store, d time.Duration) {
	if a, ok := s.(advancer); ok {
		a.advance(d)
	}
}

// fakeClock is a settable clock shared by a Service and a MemoryStore.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// clockedMemory is a MemoryStore on a fake clock that the suite can advance.
type clockedMemory struct {
	*MemoryStore
	clock *fakeClock
}

func (m clockedMemory) advance(d time.Duration) { m.clock.Add(d) }

func TestMemoryStoreBehaviour(t *testing.T) {
	StoreSuite(t, func(t *testing.T) Store {
		clock := newFakeClock(time.Unix(1_700_000_000, 0))
		s := NewMemoryStore(MemoryOptions{Clock: clock.Now, JanitorInterval: -1})
		t.Cleanup(func() { s.Close() })
		return clockedMemory{s, clock}
	})
}
