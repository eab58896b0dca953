package fastbuiltin

import (
	"strconv"
	"testing"
)

// TestBoundedCacheBound: the caches of compiled globs and verified JWTs
// are keyed by request data, so their bound is what keeps a stream of
// distinct tokens or patterns from growing the heap: the max-th entry
// stays with the others, the next one starts the cache afresh.
func TestBoundedCacheBound(t *testing.T) {
	const max = 8
	c := newBoundedCache[int](max)
	for i := range max {
		c.put([]byte(strconv.Itoa(i)), i)
	}
	if len(c.m) != max {
		t.Fatalf("%d entries after %d puts, want all %d kept", len(c.m), max, max)
	}
	for i := range max {
		if v, ok := c.get([]byte(strconv.Itoa(i))); !ok || v != i {
			t.Fatalf("entry %d: %d, %v", i, v, ok)
		}
	}
	c.put([]byte("one more"), -1)
	if len(c.m) != 1 {
		t.Fatalf("%d entries after the bound was passed, want the cache cleared to the new one", len(c.m))
	}
	if v, ok := c.get([]byte("one more")); !ok || v != -1 {
		t.Fatalf("the entry that passed the bound: %d, %v", v, ok)
	}
	// Overwriting a key at the bound is a put like any other.
	for i := range max - 1 {
		c.put([]byte(strconv.Itoa(i)), i)
	}
	if len(c.m) != max {
		t.Fatalf("%d entries, want %d", len(c.m), max)
	}
}
