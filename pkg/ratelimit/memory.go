package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// MemoryOptions configure a MemoryStore.
type MemoryOptions struct {
	// Clock is the time counters expire by; time.Now when nil. Give it the
	// Service's clock.
	Clock func() time.Time
	// MaxEntries bounds the counters kept (default 1,000,000). When a shard
	// is full, expired counters are dropped first, then arbitrary live ones:
	// a dropped counter restarts at zero, which errs towards allowing.
	MaxEntries int
	// Shards is the number of independently locked maps (default 64).
	Shards int
	// JanitorInterval is how often expired counters are swept (default 10s);
	// negative disables the janitor (expired counters are then only dropped
	// when read or when a shard is full).
	JanitorInterval time.Duration
}

// MemoryStore keeps counters in this process: right for one replica.
type MemoryStore struct {
	clock    func() time.Time
	seed     maphash.Seed
	shards   []memShard
	perShard int
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

type memShard struct {
	mu sync.Mutex
	m  map[string]memEntry
	_  [40]byte // keep shards on separate cache lines
}

type memEntry struct {
	count   uint64
	expires int64 // Unix nanoseconds
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
		s.shards[i].m = make(map[string]memEntry)
	}
	if o.JanitorInterval > 0 {
		go s.janitor(o.JanitorInterval)
	} else {
		close(s.done)
	}
	return s
}

// Apply performs ops under each counter's shard lock.
func (s *MemoryStore) Apply(ctx context.Context, ops []Op, counts []uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.clock().UnixNano()
	for i, op := range ops {
		sh := &s.shards[maphash.String(s.seed, op.Key)%uint64(len(s.shards))]
		sh.mu.Lock()
		e, ok := sh.m[op.Key]
		if ok && e.expires <= now {
			delete(sh.m, op.Key)
			ok = false
		}
		if op.Addend == 0 {
			sh.mu.Unlock()
			counts[i] = e.count * boolToUint(ok)
			continue
		}
		if !ok {
			if len(sh.m) >= s.perShard {
				sh.makeRoom(now)
			}
			e = memEntry{expires: now + int64(op.TTL)}
		}
		e.count += op.Addend
		sh.m[op.Key] = e
		sh.mu.Unlock()
		counts[i] = e.count
	}
	return nil
}

func boolToUint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// makeRoom drops expired counters, or failing that one arbitrary counter.
func (sh *memShard) makeRoom(now int64) {
	freed := false
	for k, e := range sh.m {
		if e.expires <= now {
			delete(sh.m, k)
			freed = true
		}
	}
	if freed {
		return
	}
	for k := range sh.m { // map order is random: an arbitrary victim
		delete(sh.m, k)
		return
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

// Sweep drops every expired counter now (the janitor calls it).
func (s *MemoryStore) Sweep() {
	now := s.clock().UnixNano()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.expires <= now {
				delete(sh.m, k)
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
