package fastbuiltin

import "sync"

// boundedCache is a map shared by all evaluations, bounded in entries:
// when full it is dropped and refilled by the keys in use, which for
// policies is a small, stable set (patterns, tokens of active clients).
type boundedCache[V any] struct {
	mu  sync.RWMutex
	m   map[string]V
	max int
}

func newBoundedCache[V any](max int) *boundedCache[V] {
	return &boundedCache[V]{m: make(map[string]V), max: max}
}

func (c *boundedCache[V]) get(key []byte) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[string(key)]
	c.mu.RUnlock()
	return v, ok
}

func (c *boundedCache[V]) put(key []byte, v V) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[string(key)] = v
	c.mu.Unlock()
}
