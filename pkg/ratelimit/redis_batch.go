package ratelimit

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBatch bounds the requests one pipeline carries.
const maxBatch = 128

// redisCall is one request's operations waiting for a pipeline.
type redisCall struct {
	ctx   context.Context
	ops   []Op
	first []uint64 // 1 where this process touches the key for the first time
	res   []uint64
	done  chan error // buffered: the flusher never blocks on a caller that left
}

// batcher hands waiting calls to a few flusher goroutines.
type batcher struct {
	mu      sync.Mutex
	pending []*redisCall
	kick    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

func newBatcher(flushers int, flush func([]*redisCall)) *batcher {
	b := &batcher{kick: make(chan struct{}, flushers), stop: make(chan struct{})}
	for i := 0; i < flushers; i++ {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for {
				select {
				case <-b.stop:
					b.fail(errors.New("redis store closed"))
					return
				case <-b.kick:
				}
				for batch := b.take(); len(batch) > 0; batch = b.take() {
					flush(batch)
				}
			}
		}()
	}
	return b
}

func (b *batcher) enqueue(c *redisCall) {
	b.mu.Lock()
	b.pending = append(b.pending, c)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default: // every flusher is already due to look at the queue
	}
}

// take removes up to maxBatch calls whose callers still wait.
func (b *batcher) take() []*redisCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.pending), maxBatch)
	batch := make([]*redisCall, 0, n)
	for _, c := range b.pending[:n] {
		if c.ctx.Err() == nil {
			batch = append(batch, c)
		}
	}
	rest := copy(b.pending, b.pending[n:])
	clear(b.pending[rest:])
	b.pending = b.pending[:rest]
	return batch
}

func (b *batcher) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.pending {
		c.done <- err
	}
	b.pending = nil
}

func (b *batcher) close() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}

// flush sends the calls' operations in one pipeline and answers each call.
func (s *RedisStore) flush(batch []*redisCall) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	type cmds struct {
		incr []*redis.IntCmd
		gets []*redis.StringCmd
	}
	all := make([]cmds, len(batch))
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j, c := range batch {
			all[j] = cmds{make([]*redis.IntCmd, len(c.ops)), make([]*redis.StringCmd, len(c.ops))}
			for i, op := range c.ops {
				key := s.prefix + op.Key
				if op.Addend == 0 {
					all[j].gets[i] = p.Get(ctx, key)
					continue
				}
				all[j].incr[i] = p.IncrBy(ctx, key, int64(min(op.Addend, math.MaxInt64)))
				if c.first[i] == 1 {
					p.PExpire(ctx, key, max(op.TTL, time.Millisecond))
				}
			}
		}
		return nil
	})
	// Errors are per command: a broken connection fails them all, a bad
	// value only its own request.
	var orphans []string
	var orphanTTL []time.Duration
	failed := false
	for j, c := range batch {
		var err error
		for i, op := range c.ops {
			if cmd := all[j].incr[i]; cmd != nil {
				if err = cmd.Err(); err != nil {
					if !isOverflow(err) {
						break
					}
					// INCRBY refuses to pass the int64 ceiling and leaves
					// the counter as it was, near it: saturated, never
					// wrapped, and still over every limit.
					err = nil
					c.res[i] = math.MaxInt64
					continue
				}
				c.res[i] = uint64(max(cmd.Val(), 0))
				if c.first[i] != 1 && c.res[i] == op.Addend {
					orphans = append(orphans, s.prefix+op.Key)
					orphanTTL = append(orphanTTL, op.TTL)
				}
				continue
			}
			v, gerr := all[j].gets[i].Uint64()
			if gerr != nil && !errors.Is(gerr, redis.Nil) {
				err = gerr
				break
			}
			c.res[i] = v
		}
		if err != nil {
			failed = true
		}
		c.done <- err
	}
	if failed {
		// A restarted Redis has lost the keys and their expiries.
		s.forget()
		// A cluster client keeps its slot map until a MOVED reply or a
		// minute passes; a master that died answers nothing, so ask for
		// the map again (at most every 200ms; go-redis coalesces) to find
		// the replica promoted in its place.
		if cc, ok := s.client.(*redis.ClusterClient); ok {
			cc.ReloadState(ctx)
		}
	}
	if len(orphans) > 0 {
		s.expire(ctx, orphans, orphanTTL)
	}
}

// isOverflow reports Redis's refusal of an INCRBY past the int64 range
// ("ERR increment or decrement would overflow", Redis: src/t_string.c,
// incrDecrCommand).
func isOverflow(err error) bool {
	return err != nil && strings.Contains(err.Error(), "would overflow")
}

// expire gives an expiry to keys this process thought had one but that
// INCRBY has just created: Redis restarted or evicted them in between
// without this process seeing an error. Rare, so a second round trip (off
// the callers' path: they already have their answer) is fine.
func (s *RedisStore) expire(ctx context.Context, keys []string, ttls []time.Duration) {
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			p.PExpire(ctx, k, max(ttls[i], time.Second))
		}
		return nil
	})
	if err != nil {
		s.forget()
	}
}
