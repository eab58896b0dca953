package server

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Returning a reconnect storm's memory. The initial syncs of a storm
// allocate hundreds of MB (gRPC send buffers, encoded responses) that are
// garbage once it is over. The Go runtime hands such memory back to the OS
// only gradually (its background scavenger), so RSS stays at the storm's
// peak for minutes, and at 1,000 Envoys the scavenger's madvise calls were
// the largest item of the server's CPU during the changes that followed
// (docs/performance.md). So once a storm settles (some stream had to wait
// for a sync slot, and then no slot was held for settleQuiet) the server
// returns the memory at once, with one debug.FreeOSMemory: a forced GC
// and a few ms of CPU, once per storm, never per stream.

// settleQuiet is how long the pool must stay idle after a storm.
const settleQuiet = 2 * time.Second

// stormSettle watches an admission pool for the end of a storm.
type stormSettle struct {
	quiet time.Duration
	free  func() // debug.FreeOSMemory; tests count calls

	mu     sync.Mutex
	storm  bool // a stream waited for a slot since the last free
	timer  *time.Timer
	frees  int
	active func() bool // reports whether a slot is held or awaited
	// freeing is set while free runs (Server.StormPending).
	freeing atomic.Bool
}

func newStormSettle(quiet time.Duration, active func() bool) *stormSettle {
	return &stormSettle{quiet: quiet, free: debug.FreeOSMemory, active: active}
}

// waited records that a stream had to wait for a slot: the pool is
// saturated, a storm is under way.
func (s *stormSettle) waited() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storm = true
	if s.timer != nil {
		s.timer.Stop()
	}
}

// released is called when a slot went back: if nothing is held or awaited
// any more after a storm, the memory is returned after s.quiet unless the
// pool became busy again.
func (s *stormSettle) released() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.storm || s.active() {
		return
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(s.quiet, s.fire)
		return
	}
	s.timer.Reset(s.quiet)
}

func (s *stormSettle) fire() {
	s.mu.Lock()
	if !s.storm || s.active() {
		s.mu.Unlock()
		return // busy again: the next release re-arms it
	}
	s.storm = false
	s.frees++
	free := s.free
	s.freeing.Store(true)
	s.mu.Unlock()
	free()
	s.freeing.Store(false)
}

// pending reports whether a storm's memory is still to be returned: some
// stream waited for a slot since the last free, or the free is running.
func (s *stormSettle) pending() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.storm || s.freeing.Load()
}
