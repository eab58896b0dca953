package controller

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// A policy build allocates mostly what it publishes: at the scale of
// issue 10 (1,000 Services x 1,000 Routes x 10 endpoints) about 25 MB, most
// of it still live when the build ends (the protos, their encodings, the
// snapshots' maps). With the default GC percent (100) the collector ran one
// to two cycles during each build, each marking the whole live heap: about
// a quarter of a cold build's CPU (docs/performance.md). DeferGC raises the
// GC percent to BuildGCPercent while a build and its publish run, so that
// the heap grows by what the build allocates instead of being marked over
// and over while it grows; the previous percent comes back when the last
// concurrent holder releases it, and the runtime then collects as usual.
// The Go compiler does the same for its own run (cmd/compile/internal/base,
// AdjustStartingHeap, which raises GOGC while the heap is small and lowers
// it again). What it costs: the heap can exceed its usual goal by what one
// build allocates (about 25 MB at that scale) until the next cycle. A
// memory limit (GOMEMLIMIT) still bounds the heap: the runtime collects
// when the limit is near whatever the percent. Nothing is changed when GC
// is off (GOGC=off) or already at BuildGCPercent or above. Code that sets
// the percent itself while a hold is in force has it overwritten when the
// hold ends.

// BuildGCPercent is the GC percent DeferGC holds.
const BuildGCPercent = 400

var gcDefer struct {
	mu      sync.Mutex
	holders int
	prev    int
	raised  bool
}

// DeferGC raises the GC percent to BuildGCPercent until the returned
// function is called (at most once has an effect). Holds nest and may come
// from several goroutines: the percent in force before the first comes
// back when the last is released. The controller holds it over a policy
// build and its publish; test/bench holds it in the same place.
func DeferGC() (release func()) {
	gcDefer.mu.Lock()
	defer gcDefer.mu.Unlock()
	if gcDefer.holders == 0 {
		if cur, ok := gcPercent(); ok && cur >= 0 && cur < BuildGCPercent {
			gcDefer.prev = debug.SetGCPercent(BuildGCPercent)
			gcDefer.raised = true
		}
	}
	gcDefer.holders++
	return sync.OnceFunc(func() {
		gcDefer.mu.Lock()
		defer gcDefer.mu.Unlock()
		gcDefer.holders--
		if gcDefer.holders == 0 && gcDefer.raised {
			debug.SetGCPercent(gcDefer.prev)
			gcDefer.raised = false
		}
	})
}

// gcPercent reads the GC percent in force (GOGC; -1 when off) without
// changing it.
func gcPercent() (int, bool) {
	sample := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0, false
	}
	v := sample[0].Value.Uint64()
	if v > 1<<31 { // off reads as the largest uint64
		return -1, true
	}
	return int(v), true
}
