package translate

import (
	"regexp"
	"sync"
)

// Memos of the regex work the translator and its Check repeat on every
// build: parsing and compiling each safe_regex to size its RE2 program
// (checkrules.go), and matching the :method regex of gRPC routes
// (grpc.go). A full build compiles one regex per Route (path segments,
// methods), the same ones build after build; the results depend on the
// regex alone, so they are kept across builds. The memo is bounded:
// regexes come from policy authors, and past memoMax entries (or for a
// regex longer than memoKeyMax) the work is simply done again.
const (
	memoMax    = 1 << 14
	memoKeyMax = 1 << 10
)

type memo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (m *memo[V]) get(key string, compute func(string) V) V {
	if len(key) > memoKeyMax {
		return compute(key)
	}
	m.mu.Lock()
	v, ok := m.m[key]
	m.mu.Unlock()
	if ok {
		return v
	}
	v = compute(key)
	m.mu.Lock()
	if m.m == nil || len(m.m) >= memoMax {
		m.m = make(map[string]V) // full: start again rather than grow
	}
	m.m[key] = v
	m.mu.Unlock()
	return v
}

type re2Size struct {
	size int
	err  error
}

var (
	re2Sizes  memo[re2Size]
	postMatch memo[bool]
)

// re2ProgramSizeMemo is re2ProgramSize, memoised.
func re2ProgramSizeMemo(re string) (int, error) {
	r := re2Sizes.get(re, func(re string) re2Size {
		n, err := re2ProgramSize(re)
		return re2Size{n, err}
	})
	return r.size, r.err
}

// matchesPost reports whether regex re matches "POST" (false if it does
// not compile), memoised.
func matchesPost(re string) bool {
	return postMatch.get(re, func(re string) bool {
		ok, err := regexp.MatchString(re, "POST")
		return err == nil && ok
	})
}
