package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"
)

// Op is one counter operation of a request.
type Op struct {
	Key string
	// Addend is added to the counter; 0 only reads it.
	Addend uint64
	// TTL is how long a counter this Op creates is kept. A counter's key
	// names its window, so the TTL only bounds storage; it is set when the
	// counter is created and not extended.
	TTL time.Duration
	// Pinned counters (plan limits and quotas) are never evicted by a
	// store that bounds its memory (MemoryStore): dropping one would give
	// a consumer its allowance again.
	Pinned bool
}

// Store keeps the counters. Apply performs all of one request's operations
// in one call (for Redis: one round trip) and writes each counter's value
// after its operation into counts (len(counts) == len(ops)).
type Store interface {
	Apply(ctx context.Context, ops []Op, counts []uint64) error
	Close() error
}

// maxPlainKey bounds a counter key built from raw descriptor values; longer
// ones (long paths or header values) are replaced by their SHA-256 so that
// keys stay small in Redis and memory.
const maxPlainKey = 160

// counterKey builds the key of one counter. Every part is length-prefixed,
// so no value, whatever separators it contains, can make two different
// part lists produce the same key. The kind byte separates the key spaces
// of RateLimits ('r'), plan limits ('p') and quotas ('q'); 'h' marks a
// hashed key, which cannot collide with a plain one. The window start ends
// the key, so a new window is a new counter.
func counterKey(kind byte, parts []string, windowStart int64) string {
	b := make([]byte, 0, 64)
	b = append(b, kind, ':')
	for _, p := range parts {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	if len(b) > maxPlainKey {
		sum := sha256.Sum256(b)
		b = append(b[:0], 'h', ':')
		b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	}
	b = append(b, '@')
	b = strconv.AppendInt(b, windowStart, 10)
	return string(b)
}
