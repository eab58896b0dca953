package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"time"
	"unsafe"
)

// MemoryOptions configure a MemoryStore.
type MemoryOptions struct {
	// Clock is the time counters expire by; time.Now when nil. Give it the
	// Service's clock.
	Clock func() time.Time
	// MaxEntries bounds the evictable counters kept (default 1,000,000).
	// When a shard is full, a new counter takes the place of an expired one
	// near the least recently used end, or else of the least recently used
	// one: a dropped counter restarts at zero, which errs towards allowing.
	// Pinned counters (Op.Pinned: plan limits and quotas) are never dropped
	// and not bounded here; the Service creates them only for consumers with
	// a Plan, so the policy bounds them.
	MaxEntries int
	// Shards is the number of independently locked maps (default 64).
	Shards int
	// JanitorInterval is how often expired counters are swept (default 10s);
	// negative disables the janitor (expired counters are then only dropped
	// when read or when a shard is full).
	JanitorInterval time.Duration
}

// MemoryStore keeps counters in this process: right for one replica.
//
// Every operation is O(1): a new counter in a full shard evicts from the
// tail of the shard's LRU list (looking at no more than evictProbe
// entries for an expired one first), never by scanning the shard, so a
// flood of new keys costs each request the same small time.
type MemoryStore struct {
	clock    func() time.Time
	seed     maphash.Seed
	shards   []memShard
	perShard int
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// evictProbe is how many entries from the LRU end a full shard looks at
// for an expired counter before it drops the least recently used one.
const evictProbe = 8

// memShard is a shard padded to a multiple of 64 bytes, so that shards
// side by side in the slice never share a cache line (a counter update on
// one core would otherwise invalidate its neighbour's line on another).
// The padding follows the fields' size, whatever they become.
type memShard struct {
	memShardState
	_ [(cacheLine - unsafe.Sizeof(memShardState{})%cacheLine) % cacheLine]byte
}

const cacheLine = 64

type memShardState struct {
	mu  sync.Mutex
	m   map[string]*memEntry
	lru memEntry // sentinel of the circular LRU list of evictable entries; next is the most recent
	n   int      // evictable entries in the list
}

type memEntry struct {
	key        string
	count      uint64
	expires    int64 // Unix nanoseconds
	pinned     bool
	prev, next *memEntry
}

// NewMemoryStore returns a MemoryStore; Close stops its janitor.
func NewMemoryStore(o MemoryOptions) *MemoryStore {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 1_000_000
	}
	if o.Shards <= 0 {
		o.Shards = 64
	}
	if o.JanitorInterval == 0 {
		o.JanitorInterval = 10 * time.Second
	}
	s := &MemoryStore{
		clock:    o.Clock,
		seed:     maphash.MakeSeed(),
		shards:   make([]memShard, o.Shards),
		perShard: max(1, o.MaxEntries/o.Shards),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.m = make(map[string]*memEntry)
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
	}
	if o.JanitorInterval > 0 {
		go s.janitor(o.JanitorInterval)
	} else {
		close(s.done)
	}
	return s
}

// Apply performs ops under each counter's shard lock. Counters saturate at
// the largest uint64: they never wrap back under a limit.
func (s *MemoryStore) Apply(ctx context.Context, ops []Op, counts []uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.clock().UnixNano()
	for i, op := range ops {
		sh := &s.shards[maphash.String(s.seed, op.Key)%uint64(len(s.shards))]
		sh.mu.Lock()
		e := sh.m[op.Key]
		if e != nil && e.expires <= now {
			sh.remove(e)
			e = nil
		}
		switch {
		case e == nil && op.Addend == 0:
			counts[i] = 0
			sh.mu.Unlock()
			continue
		case e == nil:
			if !op.Pinned && sh.n >= s.perShard {
				sh.evict(now)
			}
			e = &memEntry{key: op.Key, expires: now + int64(op.TTL), pinned: op.Pinned}
			sh.m[op.Key] = e
			sh.pushFront(e)
		default:
			sh.touch(e)
		}
		e.count = saturatingAdd(e.count, op.Addend)
		counts[i] = e.count
		sh.mu.Unlock()
	}
	return nil
}

func saturatingAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func boolToUint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// pushFront links an evictable entry as the most recently used.
func (sh *memShard) pushFront(e *memEntry) {
	if e.pinned {
		return
	}
	e.prev, e.next = &sh.lru, sh.lru.next
	e.prev.next, e.next.prev = e, e
	sh.n++
}

func (sh *memShard) unlink(e *memEntry) {
	if e.pinned {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	sh.n--
}

func (sh *memShard) touch(e *memEntry) {
	if !e.pinned && sh.lru.next != e {
		sh.unlink(e)
		sh.pushFront(e)
	}
}

func (sh *memShard) remove(e *memEntry) {
	sh.unlink(e)
	delete(sh.m, e.key)
}

// evict drops an expired counter among the evictProbe least recently used,
// or failing that the least recently used one.
func (sh *memShard) evict(now int64) {
	victim := sh.lru.prev
	for e, i := sh.lru.prev, 0; e != &sh.lru && i < evictProbe; e, i = e.prev, i+1 {
		if e.expires <= now {
			victim = e
			break
		}
	}
	if victim != &sh.lru {
		sh.remove(victim)
	}
}

// Len is the number of counters held, expired ones not yet swept included.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Sweep drops every expired counter now (the janitor calls it). It holds
// one shard's lock at a time.
func (s *MemoryStore) Sweep() {
	now := s.clock().UnixNano()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, e := range sh.m {
			if e.expires <= now {
				sh.remove(e)
			}
		}
		sh.mu.Unlock()
	}
}

func (s *MemoryStore) janitor(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Close stops the janitor.
func (s *MemoryStore) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return nil
}
