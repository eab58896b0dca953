package server

import (
	"sync"
	"testing"
)

// TestFanOutVisitsEveryStreamOnce: below, at and well above the size that
// spreads the work over goroutines, every stream is updated exactly once
// and fanOut returns only after the last update.
func TestFanOutVisitsEveryStreamOnce(t *testing.T) {
	for _, n := range []int{0, 1, parallelUpdateMin - 1, parallelUpdateMin, 2*parallelUpdateMin + 1, 5000} {
		streams := make([]*deltaConn, n)
		for i := range streams {
			streams[i] = &deltaConn{}
		}
		var mu sync.Mutex
		seen := make(map[*deltaConn]int, n)
		fanOut(streams, func(s *deltaConn) {
			mu.Lock()
			seen[s]++
			mu.Unlock()
		})
		if len(seen) != n {
			t.Errorf("%d streams: %d updated", n, len(seen))
		}
		for _, s := range streams {
			if seen[s] != 1 {
				t.Fatalf("%d streams: a stream updated %d times", n, seen[s])
			}
		}
	}
}
