package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a RedisStore.
type RedisOptions struct {
	// Mode is the topology (default RedisSingle). ParseRedisURL fills the
	// connection fields from a URL.
	Mode RedisMode
	// Addr is the host:port of a single Redis (RedisSingle).
	Addr string
	// Addrs are a Redis Cluster's seed nodes (RedisCluster: any reachable
	// one gives the slot map) or the sentinels (RedisSentinel).
	Addrs []string
	// MasterName is the master the sentinels watch (RedisSentinel).
	MasterName string
	// Username and Password authenticate to the Redis servers (not to the
	// sentinels, which run without authentication here).
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
//
// On a Redis Cluster a request's counters may live on several masters:
// go-redis splits the pipeline by node and sends the parts at once, so a
// request still waits for one round trip per master it touches, in
// parallel. Keys need no hash tags: a pipeline is not a transaction, and
// each counter's commands (INCRBY and its PEXPIRE) name the same key, so
// they land on one slot. Through Sentinel the store talks to the current
// master only; go-redis follows a promotion.
type RedisStore struct {
	client  redis.UniversalClient
	name    string // what errors name: the address(es), never credentials
	prefix  string
	timeout time.Duration
	seen    atomic.Pointer[MemoryStore] // keys whose expiry this process set
	batch   *batcher
}

// NewRedisStore connects lazily: it returns without contacting Redis, and
// every Apply dials again if Redis was down, so the store recovers by
// itself when Redis returns.
func NewRedisStore(o RedisOptions) (*RedisStore, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = "gatehouse:rl:"
	}
	c, name, err := newRedisClient(o)
	if err != nil {
		return nil, err
	}
	st := &RedisStore{client: c, name: name, prefix: o.KeyPrefix, timeout: o.Timeout}
	st.seen.Store(newSeen())
	if o.Flushers <= 0 {
		o.Flushers = 4
	}
	st.batch = newBatcher(o.Flushers, st.flush)
	return st, nil
}

// newRedisClient builds the go-redis client of o's topology. Every mode
// gets the same bounds: the timeout on dialing, reading and writing, and no
// retry of a command that may have run (a retried increment could count a
// request twice; the caller, Envoy, decides what a failure means).
func newRedisClient(o RedisOptions) (redis.UniversalClient, string, error) {
	switch o.Mode {
	case RedisSingle:
		if o.Addr == "" {
			return nil, "", errors.New("ratelimit: RedisOptions.Addr is required")
		}
		return redis.NewClient(&redis.Options{
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
			MaxRetries:            -1,
			DialerRetries:         1,
			// No CLIENT SETINFO on connect: one command less per new connection.
			DisableIdentity: true,
		}), o.Addr, nil
	case RedisCluster:
		if len(o.Addrs) == 0 {
			return nil, "", errors.New("ratelimit: RedisOptions.Addrs (cluster seed nodes) is required")
		}
		if o.DB != 0 {
			return nil, "", errors.New("ratelimit: a Redis Cluster has database 0 only")
		}
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 o.Addrs,
			Username:              o.Username,
			Password:              o.Password,
			Dialer:                o.Dialer,
			PoolSize:              o.PoolSize,
			DialTimeout:           o.Timeout,
			ReadTimeout:           o.Timeout,
			WriteTimeout:          o.Timeout,
			PoolTimeout:           o.Timeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1,
			DialerRetries:         1,
			// MaxRedirects is left at go-redis's default (3): a MOVED or
			// ASK reply (a slot moved, a replica promoted) means the
			// command did not run, so following it is safe; it is the only
			// way to reach a slot's new master without an error. A
			// pipeline whose connection breaks after sending is sent again
			// too (go-redis retries it within the same bound): a counter
			// may then count a request twice, never fewer times.
			DisableIdentity: true,
		}), "cluster " + strings.Join(o.Addrs, ","), nil
	case RedisSentinel:
		if len(o.Addrs) == 0 || o.MasterName == "" {
			return nil, "", errors.New("ratelimit: RedisOptions.Addrs (sentinels) and MasterName are required")
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            o.MasterName,
			SentinelAddrs:         o.Addrs,
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
			MaxRetries:            -1,
			DialerRetries:         1,
			DisableIdentity:       true,
		}), "sentinel master " + o.MasterName + " via " + strings.Join(o.Addrs, ","), nil
	default:
		return nil, "", fmt.Errorf("ratelimit: unknown Redis mode %q (want %q, %q or %q)", o.Mode, RedisSingle, RedisCluster, RedisSentinel)
	}
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
			return fmt.Errorf("redis %s: %w", s.name, err)
		}
		copy(counts, c.res)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redis %s: %w", s.name, ctx.Err())
	}
}

// Ping checks that Redis answers, so that the first request does not pay
// for a new connection within its short timeout. For startup and readiness.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", s.name, err)
	}
	return nil
}

// Close stops the flushers and closes the connection pool.
func (s *RedisStore) Close() error {
	s.batch.close()
	s.seen.Load().Close()
	return s.client.Close()
}
