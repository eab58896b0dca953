package controller

import (
	"context"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/xds/server"
)

func mustGCPercent(t *testing.T) int {
	t.Helper()
	p, ok := gcPercent()
	if !ok {
		t.Fatal("GC percent unreadable")
	}
	return p
}

// TestDeferGCRaisesAndRestores: a hold raises the GC percent to
// BuildGCPercent; nested and concurrent holds keep it there until the last
// is released, which restores the percent in force before; releasing twice
// does nothing; GC off, or a percent already at least as high, is left
// alone.
func TestDeferGCRaisesAndRestores(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)

	a := DeferGC()
	if got := mustGCPercent(t); got != BuildGCPercent {
		t.Fatalf("held: GC percent %d, want %d", got, BuildGCPercent)
	}
	b := DeferGC()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { DeferGC()() })
	}
	wg.Wait()
	a()
	a() // a second release of the same hold does nothing
	if got := mustGCPercent(t); got != BuildGCPercent {
		t.Fatalf("one hold left: GC percent %d, want %d", got, BuildGCPercent)
	}
	b()
	if got := mustGCPercent(t); got != 100 {
		t.Fatalf("released: GC percent %d, want 100 again", got)
	}

	for _, p := range []int{-1, BuildGCPercent, 2 * BuildGCPercent} {
		debug.SetGCPercent(p)
		release := DeferGC()
		if got := mustGCPercent(t); got != p {
			t.Errorf("GOGC %d held: GC percent %d, want it left alone", p, got)
		}
		release()
		if got := mustGCPercent(t); got != p {
			t.Errorf("GOGC %d released: GC percent %d, want it left alone", p, got)
		}
	}
}

// TestControllerDefersGCOverPolicyBuilds: the controller holds DeferGC over
// a policy build and its publish, not over an endpoint-only change, and
// releases it after.
func TestControllerDefersGCOverPolicyBuilds(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	var mu sync.Mutex
	var seen []int
	dir := &memFS{}
	dir.set(map[string]string{"all.yaml": basePolicy})
	pub, err := server.NewPublisher(server.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctrl := New(Config{Load: dir.load, Publisher: pub, Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
		OnPublished: func(context.Context, server.PublishStats) {
			p, _ := gcPercent()
			mu.Lock()
			seen = append(seen, p)
			mu.Unlock()
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctrl.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	wait := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); count() < n; time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("build %d not published within 5s", n)
			}
		}
	}
	wait(1)
	ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.1", Port: 80, Weight: 1}}})
	wait(2)
	mu.Lock()
	defer mu.Unlock()
	if seen[0] != BuildGCPercent || seen[1] != 100 {
		t.Errorf("GC percent while publishing: policy build %d (want %d), endpoint-only change %d (want 100)", seen[0], BuildGCPercent, seen[1])
	}
	if got := mustGCPercent(t); got != 100 {
		t.Errorf("after the builds: GC percent %d, want 100 again", got)
	}
}
