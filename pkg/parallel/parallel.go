// Package parallel runs a loop over indexes on a few goroutines, handing
// the indexes out in small chunks on demand.
//
// The build's loops (routes, clusters, endpoints, hashes) and the delta
// fan-out used to split their items into one contiguous share per
// goroutine. On a 2-core machine the GC's mark worker, or anything else
// that takes a core for a while, then delays one share while the other
// goroutine finishes early and its core idles: a full build's parallel
// phases ran at 1.64 cores of 2. Chunks taken on demand let the goroutine
// that is not held up take the held-up one's work.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Workers is the number of goroutines For should use for n items when a
// goroutine is only worth starting for at least minEach of them: between 1
// and GOMAXPROCS.
func Workers(n, minEach int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/max(minEach, 1)))
}

// For calls fn(w, i) once for every i in [0, n), on the given number of
// goroutines (the caller's among them). w, in [0, workers), names the
// goroutine making the call: no two calls with the same w run at once, so
// fn can keep per-goroutine state without locking.
//
// When calls fail, For returns the error of the lowest failing index, the
// same error whatever the scheduling: after a failure at i no chunk above
// i is started, while every chunk below it still runs.
func For(workers, n int, fn func(w, i int) error) error {
	if n <= 0 {
		return nil
	}
	workers = max(1, min(workers, n))
	if workers == 1 {
		for i := range n {
			if err := fn(0, i); err != nil {
				return err
			}
		}
		return nil
	}
	// About 16 chunks per goroutine: what is left when one goroutine is
	// held up is at most a chunk, and taking one costs an atomic add.
	chunk := max(1, min(32, n/(workers*16)))
	var next atomic.Int64
	var failAt atomic.Int64 // the lowest failing index so far; n if none
	failAt.Store(int64(n))
	errs := make([]error, workers)
	errAt := make([]int, workers)
	run := func(w int) {
		errAt[w] = n
		for {
			lo := int(next.Add(int64(chunk))) - chunk
			if lo >= n || int64(lo) >= failAt.Load() {
				return
			}
			for i := lo; i < min(lo+chunk, n); i++ {
				if err := fn(w, i); err != nil {
					// Chunks are taken in increasing order, so every later
					// chunk of this goroutine starts above i.
					errs[w], errAt[w] = err, i
					for {
						cur := failAt.Load()
						if int64(i) >= cur || failAt.CompareAndSwap(cur, int64(i)) {
							return
						}
					}
				}
			}
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(w)
		}()
	}
	run(0)
	wg.Wait()
	first := 0
	for w := range workers {
		if errAt[w] < errAt[first] {
			first = w
		}
	}
	return errs[first]
}
