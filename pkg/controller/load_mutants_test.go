package controller

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Written to kill a surviving mutant of `make mutate` (gremlins) in
// pkg/controller; docs/testing.md has the run.

// A load that yields no snapshot at all (Config.Load may return nil: nothing
// loaded yet) is survived: nothing is built or published and the loop goes
// on to the next change. Killed mutant: `snap != nil` negated before the
// load span's attributes in build, which read the nil snapshot and
// panicked the control loop.
func TestLoadReturningNothingIsSurvived(t *testing.T) {
	var loads atomic.Int32
	ctrl := New(Config{
		Load:     func(*policy.Snapshot) *policy.Snapshot { loads.Add(1); return nil },
		Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctrl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// The loop is single-threaded: a second Load means the build of the
	// first one returned.
	for deadline := time.Now().Add(5 * time.Second); loads.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("%d loads within 5s, want 2", loads.Load())
		}
		ctrl.PolicyChanged()
		time.Sleep(10 * time.Millisecond)
	}
	if ctrl.Ready() {
		t.Fatal("ready without any snapshot")
	}
}
