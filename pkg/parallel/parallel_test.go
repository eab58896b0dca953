package parallel

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestForCallsEveryIndexOnceWithExclusiveWorkers(t *testing.T) {
	for _, tc := range []struct{ workers, n int }{{1, 0}, {1, 5}, {2, 1}, {2, 7}, {3, 100}, {4, 1000}, {8, 33}} {
		calls := make([]atomic.Int32, tc.n)
		busy := make([]atomic.Int32, tc.workers)
		err := For(tc.workers, tc.n, func(w, i int) error {
			if w < 0 || w >= tc.workers {
				return fmt.Errorf("worker %d out of range", w)
			}
			if busy[w].Add(1) != 1 {
				return fmt.Errorf("worker %d runs twice at once", w)
			}
			runtime.Gosched()
			calls[i].Add(1)
			busy[w].Add(-1)
			return nil
		})
		if err != nil {
			t.Fatalf("workers %d n %d: %v", tc.workers, tc.n, err)
		}
		for i := range calls {
			if c := calls[i].Load(); c != 1 {
				t.Fatalf("workers %d n %d: index %d called %d times", tc.workers, tc.n, i, c)
			}
		}
	}
}

// A goroutine held up (here by a sleep; in a build by the GC's mark worker
// or another process) must not hold up the loop: the other goroutine takes
// its share. With one fixed share per goroutine worker 0 did exactly half.
func TestForHandsAHeldUpWorkersShareToTheOthers(t *testing.T) {
	const n = 1000
	var done [2]atomic.Int32
	held := make(chan struct{})
	start := time.Now()
	err := For(2, n, func(w, i int) error {
		switch {
		case w == 1 && done[1].Load() == 0:
			close(held) // worker 1 has its first chunk: hold it up
			time.Sleep(100 * time.Millisecond)
		case w == 0 && done[0].Load() == 0:
			select { // let worker 1 take a chunk first
			case <-held:
			case <-time.After(5 * time.Second):
				return fmt.Errorf("worker 1 never started")
			}
		}
		done[w].Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := done[0].Load(); got < n*9/10 {
		t.Fatalf("the free goroutine made %d of %d calls while the other slept; want at least 90%%", got, n)
	}
	t.Logf("free goroutine: %d of %d calls; loop took %v", done[0].Load(), n, time.Since(start))
}

// The error returned is the lowest failing index's, whatever the schedule.
func TestForReturnsTheLowestFailingIndexsError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		n := 1 + r.IntN(400)
		workers := 1 + r.IntN(4)
		fail := map[int]bool{}
		lowest := n
		for range r.IntN(4) {
			i := r.IntN(n)
			fail[i] = true
			lowest = min(lowest, i)
		}
		delays := make([]bool, n)
		for i := range delays {
			delays[i] = r.IntN(20) == 0
		}
		err := For(workers, n, func(w, i int) error {
			if delays[i] {
				runtime.Gosched()
			}
			if fail[i] {
				return fmt.Errorf("index %d", i)
			}
			return nil
		})
		want := ""
		if lowest < n {
			want = fmt.Sprintf("index %d", lowest)
		}
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Fatalf("round %d (workers %d, n %d, failing %v): got %q, want %q", round, workers, n, fail, got, want)
		}
	}
}

func TestWorkers(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, tc := range []struct{ n, minEach, want int }{
		{0, 64, 1}, {63, 64, 1}, {128, 64, min(2, procs)}, {1 << 20, 64, procs}, {10, 0, min(10, procs)},
	} {
		if got := Workers(tc.n, tc.minEach); got != tc.want {
			t.Errorf("Workers(%d, %d) = %d, want %d", tc.n, tc.minEach, got, tc.want)
		}
	}
}
