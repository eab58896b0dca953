package ratelimit

import (
	"strings"
	"testing"
)

// TestCounterKeyPlainUpToMaxPlainKey: a key of exactly maxPlainKey bytes
// (before the window) stays readable; one byte more is hashed. The spelling
// is the Redis key, shared by every replica of the service.
func TestCounterKeyPlainUpToMaxPlainKey(t *testing.T) {
	// "x:" + "154:" + 154 bytes = 160 = maxPlainKey.
	if k := counterKey('x', []string{strings.Repeat("a", 154)}, 0); !strings.HasPrefix(k, "x:154:") {
		t.Fatalf("a %d-byte key was hashed: %q", maxPlainKey, k)
	}
	if k := counterKey('x', []string{strings.Repeat("a", 155)}, 0); !strings.HasPrefix(k, "h:") {
		t.Fatalf("a %d-byte key was not hashed: %q", maxPlainKey+1, k)
	}
}
