package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a RedisStore.
type RedisOptions struct {
	Addr     string // host:port
	Username string
	Password string
	DB       int
	// Dialer replaces the default TCP dialer (tests count round trips with it).
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// PoolSize is the number of pooled connections (default: go-redis's,
	// 10 per CPU).
	PoolSize int
	// Timeout bounds dialing, reading and writing (default 100ms). The
	// Service's own timeout bounds a whole call as well.
	Timeout time.Duration
	// KeyPrefix is prepended to every counter key (default "gatehouse:rl:").
	KeyPrefix string
	// Flushers is how many pipelines may be in flight at once (default 4).
	Flushers int
}

// RedisStore keeps counters in Redis, so that several replicas enforce one
// limit. All operations of a request go in one pipeline: one round trip.
//
// A counter is INCRBY alone once this process has set its expiry: the key
// names its window, so its TTL never needs refreshing. That makes a
// request's Redis work one cheap command per counter (envoyproxy/ratelimit
// sends INCRBY and EXPIRE every time; a Lua script costs several times
// more Redis CPU). Which keys already have an expiry is remembered in a
// bounded in-memory set that expires with the keys and is forgotten on any
// Redis error, since a restarted Redis has lost the keys and their TTLs.
//
// Requests waiting at the same moment share pipelines (up to Flushers in
// flight): under load that cuts system calls and Redis wake-ups per request
// several times, and each request still costs exactly one round trip.
type RedisStore struct {
	client  *redis.Client
	prefix  string
	timeout time.Duration
	seen    atomic.Pointer[MemoryStore] // keys whose expiry this process set
	batch   *batcher
}

// NewRedisStore connects lazily: it returns without contacting Redis, and
// every Apply dials again if Redis was down, so the store recovers by
// itself when Redis returns.
func NewRedisStore(o RedisOptions) (*RedisStore, error) {
	if o.Addr == "" {
		return nil, errors.New("ratelimit: RedisOptions.Addr is required")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = "gatehouse:rl:"
	}
	c := redis.NewClient(&redis.Options{
		Addr:                  o.Addr,
		Username:              o.Username,
		Password:              o.Password,
		DB:                    o.DB,
		Dialer:                o.Dialer,
		PoolSize:              o.PoolSize,
		DialTimeout:           o.Timeout,
		ReadTimeout:           o.Timeout,
		WriteTimeout:          o.Timeout,
		PoolTimeout:           o.Timeout,
		ContextTimeoutEnabled: true,
		// A retried increment could count a request twice; the caller
		// (Envoy) decides what a failure means instead.
		MaxRetries:    -1,
		DialerRetries: 1,
		// No CLIENT SETINFO on connect: one command less per new connection.
		DisableIdentity: true,
	})
	st := &RedisStore{client: c, prefix: o.KeyPrefix, timeout: o.Timeout}
	st.seen.Store(newSeen())
	if o.Flushers <= 0 {
		o.Flushers = 4
	}
	st.batch = newBatcher(o.Flushers, st.flush)
	return st, nil
}

func newSeen() *MemoryStore {
	return NewMemoryStore(MemoryOptions{MaxEntries: 1 << 18, JanitorInterval: time.Minute})
}

// forget drops what this process knows about expiries (after an error).
func (s *RedisStore) forget() {
	if old := s.seen.Swap(newSeen()); old != nil {
		old.Close()
	}
}

// Apply runs ops in one round trip: they join the next pipeline a flusher
// sends, together with those of other requests waiting at that moment.
func (s *RedisStore) Apply(ctx context.Context, ops []Op, counts []uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &redisCall{ctx: ctx, ops: ops, first: make([]uint64, len(ops)), res: make([]uint64, len(ops)), done: make(chan error, 1)}
	marks := make([]Op, len(ops))
	for i, op := range ops {
		// A key counts as seen until its own TTL ends: by then its window is over.
		marks[i] = Op{Key: op.Key, Addend: boolToUint(op.Addend > 0), TTL: op.TTL}
	}
	if err := s.seen.Load().Apply(ctx, marks, c.first); err != nil {
		return err
	}
	s.batch.enqueue(c)
	select {
	case err := <-c.done:
		if err != nil {
			return fmt.Errorf("redis %s: %w", s.client.Options().Addr, err)
		}
		copy(counts, c.res)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redis %s: %w", s.client.Options().Addr, ctx.Err())
	}
}

// Ping checks that Redis answers, so that the first request does not pay
// for a new connection within its short timeout. For startup and readiness.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", s.client.Options().Addr, err)
	}
	return nil
}

// Close stops the flushers and closes the connection pool.
func (s *RedisStore) Close() error {
	s.batch.close()
	s.seen.Load().Close()
	return s.client.Close()
}
