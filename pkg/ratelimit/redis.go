package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
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
}

// RedisStore keeps counters in Redis, so that several replicas enforce one
// limit. All operations of a request go in one EVALSHA of a small Lua
// script: one round trip, executed atomically.
type RedisStore struct {
	client *redis.Client
	prefix string
}

// applyScript increments (or, for an addend of 0, reads) each key and sets
// a new key's expiry. ARGV holds addend and TTL in milliseconds per key.
var applyScript = redis.NewScript(`
local out = {}
for i, key in ipairs(KEYS) do
  local add = tonumber(ARGV[2*i-1])
  if add > 0 then
    local v = redis.call('INCRBY', key, add)
    if v == add then redis.call('PEXPIRE', key, ARGV[2*i]) end
    out[i] = v
  else
    out[i] = tonumber(redis.call('GET', key) or '0')
  end
end
return out
`)

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
	return &RedisStore{client: c, prefix: o.KeyPrefix}, nil
}

// Apply runs ops in one round trip.
func (s *RedisStore) Apply(ctx context.Context, ops []Op, counts []uint64) error {
	keys := make([]string, len(ops))
	args := make([]any, 0, 2*len(ops))
	for i, op := range ops {
		keys[i] = s.prefix + op.Key
		ttl := op.TTL.Milliseconds()
		if ttl <= 0 {
			ttl = 1000
		}
		args = append(args, strconv.FormatUint(op.Addend, 10), strconv.FormatInt(ttl, 10))
	}
	vals, err := applyScript.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis %s: %w", s.client.Options().Addr, err)
	}
	if len(vals) != len(ops) {
		return fmt.Errorf("redis %s: %d results for %d keys", s.client.Options().Addr, len(vals), len(ops))
	}
	for i, v := range vals {
		counts[i] = uint64(max(v, 0))
	}
	return nil
}

// Ping checks that Redis answers and loads the counting script, so that
// the first request does not pay for a connection and a script upload
// within its short timeout. For startup and readiness probes.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := applyScript.Load(ctx, s.client).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", s.client.Options().Addr, err)
	}
	return nil
}

// Close closes the connection pool.
func (s *RedisStore) Close() error { return s.client.Close() }
