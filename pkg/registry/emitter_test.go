package registry

import (
	"context"
	"sync"
	"testing"
	"time"
)

// A burst of kicks while a report is being built costs one more report,
// and a snapshot next calls unchanged is not reported.
func TestEmitterCoalesces(t *testing.T) {
	e := NewEmitter()
	var mu sync.Mutex
	calls, reports := 0, 0
	block := make(chan struct{})
	next := func() (Snapshot, bool) {
		mu.Lock()
		calls++
		c := calls
		mu.Unlock()
		if c == 1 {
			<-block // the first report is slow: kicks pile up meanwhile
		}
		return Snapshot{}, c != 3 // the third build finds nothing new
	}
	got := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx, next, func(Snapshot) {
			mu.Lock()
			reports++
			mu.Unlock()
			got <- struct{}{}
		})
	}()
	e.Kick()
	waitCalls := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			c := calls
			mu.Unlock()
			if c >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("next called %d times within 5s, want %d", c, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitCalls(1)
	for range 100 {
		e.Kick() // never blocks, though nobody reads
	}
	close(block)
	<-got
	<-got // the 100 kicks: one more report
	e.Kick()
	waitCalls(3)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 || reports != 2 {
		t.Fatalf("next called %d times with %d reports, want 3 and 2", calls, reports)
	}
}
