package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func testAdmission(t *testing.T, slots int, wait, hold time.Duration) *admission {
	t.Helper()
	m, err := newServerMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return newAdmission(slots, wait, hold, m)
}

// sendWithin reports whether beforeSend returned within d.
func sendWithin(tk *syncTicket, typeURL, nonce string, d time.Duration) bool {
	done := make(chan struct{})
	go func() { tk.beforeSend(context.Background(), typeURL, nonce); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func TestAdmissionSlots(t *testing.T) {
	a := testAdmission(t, 1, time.Minute, time.Minute)
	first, second := a.ticket(), a.ticket()
	if !sendWithin(first, "cds", "1", time.Second) || !sendWithin(first, "eds", "2", time.Second) {
		t.Fatal("the first stream waited with a slot free, or for its own slot")
	}
	if sendWithin(second, "cds", "1", 200*time.Millisecond) {
		t.Fatal("a second stream sent its initial response while the only slot was held")
	}
	first.answered("1")
	if len(a.slots) != 1 {
		t.Fatal("slot given back with a first response still unanswered")
	}
	first.answered("2") // the second stream's send now gets the slot
	waitFor(t, "the second stream took the slot", func() bool {
		second.mu.Lock()
		defer second.mu.Unlock()
		return second.holding
	})
	// A change on the established first stream never waits.
	if !sendWithin(first, "eds", "3", time.Second) {
		t.Fatal("a later response of a type waited for a slot")
	}
	second.close()
	if len(a.slots) != 0 {
		t.Fatal("slot kept after the stream ended")
	}
}

func TestAdmissionBounds(t *testing.T) {
	a := testAdmission(t, 1, time.Minute, 300*time.Millisecond)
	stuck, late := a.ticket(), a.ticket()
	stuck.beforeSend(context.Background(), "cds", "1") // never answered
	start := time.Now()
	late.beforeSend(context.Background(), "cds", "1")
	took := time.Since(start)
	t.Logf("waited %s for the stuck stream's slot (hold bound 300ms)", took)
	if took > 5*time.Second {
		t.Fatalf("waited %s; the hold bound is 300ms", took)
	}
	if got := testutil.ToFloat64(a.m.syncHoldExpired); got != 1 {
		t.Fatalf("hold expirations %v, want 1", got)
	}
	late.close()
	// Wait bound: with the slot held, a stream goes ahead after the wait.
	a = testAdmission(t, 1, 300*time.Millisecond, time.Minute)
	a.ticket().beforeSend(context.Background(), "cds", "1")
	third := a.ticket()
	start = time.Now()
	third.beforeSend(context.Background(), "cds", "1")
	if took := time.Since(start); took < 250*time.Millisecond || took > 5*time.Second {
		t.Fatalf("went ahead after %s; the wait bound is 300ms", took)
	}
	third.mu.Lock()
	holding := third.holding
	third.mu.Unlock()
	if holding || testutil.ToFloat64(a.m.syncWaitExpired) != 1 {
		t.Fatalf("after the wait bound: holding %v, expirations %v; want false, 1", holding, testutil.ToFloat64(a.m.syncWaitExpired))
	}
	third.close()
	if len(a.slots) != 1 {
		t.Fatalf("%d slots held, want the first stream's only", len(a.slots))
	}
}

// A storm (streams waiting for slots) returns its memory to the OS once,
// after the pool stayed idle for the quiet time; a stream that connects
// with a slot free, and a busy pool, do not.
func TestAdmissionFreesMemoryOnceAfterAStorm(t *testing.T) {
	a := testAdmission(t, 1, time.Minute, time.Minute)
	frees := make(chan struct{}, 8)
	var freedAt atomic.Int64
	a.settle.quiet = 100 * time.Millisecond
	a.settle.free = func() { freedAt.Store(time.Now().UnixNano()); frees <- struct{}{} }
	expectFrees := func(want int, within time.Duration) {
		t.Helper()
		got := 0
		deadline := time.After(within)
		for {
			select {
			case <-frees:
				got++
				continue
			case <-deadline:
			}
			break
		}
		if got != want {
			t.Fatalf("memory returned %d times, want %d", got, want)
		}
	}
	// No storm: one stream, a free slot.
	lone := a.ticket()
	if !sendWithin(lone, "cds", "1", time.Second) {
		t.Fatal("a lone stream waited")
	}
	lone.answered("1")
	expectFrees(0, 400*time.Millisecond)

	// A storm of five streams through one slot, which a first stream holds
	// until all five wait.
	first := a.ticket()
	if !sendWithin(first, "cds", "1", time.Second) {
		t.Fatal("the first stream waited")
	}
	tickets := make([]*syncTicket, 5)
	done := make(chan struct{}, len(tickets))
	for i := range tickets {
		tickets[i] = a.ticket()
		go func() { tickets[i].beforeSend(context.Background(), "cds", "1"); done <- struct{}{} }()
	}
	waitFor(t, "five streams wait", func() bool { return a.waiting.Load() == 5 })
	start := time.Now()
	first.answered("1")
	for range tickets {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a stream of the storm never got a slot")
		}
		for _, tk := range tickets {
			tk.answered("1") // whoever holds the slot answers
		}
	}
	expectFrees(1, 2*time.Second)
	t.Logf("storm of %d streams: memory returned %s after it began (quiet time 100ms)", len(tickets), time.Duration(freedAt.Load()-start.UnixNano()).Round(time.Millisecond))
	// Quiet afterwards: nothing more.
	expectFrees(0, 400*time.Millisecond)
}

// While slots are still held, the storm has not settled.
func TestAdmissionDoesNotFreeWhileBusy(t *testing.T) {
	a := testAdmission(t, 1, time.Minute, time.Minute)
	var frees atomic.Int32
	a.settle.quiet = 50 * time.Millisecond
	a.settle.free = func() { frees.Add(1) }
	holder, waiter := a.ticket(), a.ticket()
	if !sendWithin(holder, "cds", "1", time.Second) {
		t.Fatal("first stream waited")
	}
	if sendWithin(waiter, "cds", "1", 100*time.Millisecond) {
		t.Fatal("second stream did not wait")
	}
	holder.answered("1") // the waiter takes the slot: still busy
	time.Sleep(300 * time.Millisecond)
	if n := frees.Load(); n != 0 {
		t.Fatalf("memory returned %d times while a slot was held", n)
	}
	if !a.settle.pending() {
		t.Fatal("storm not reported pending while a slot was held")
	}
	waiter.answered("1")
	waitFor(t, "the storm settled", func() bool { return frees.Load() == 1 })
	// What the fleet benchmark waits for (Server.StormPending).
	waitFor(t, "the settle reported", func() bool { return !a.settle.pending() })
}
