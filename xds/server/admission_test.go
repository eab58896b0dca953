package server

import (
	"context"
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
