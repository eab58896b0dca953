package controller

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// New's defaults: a zero Debounce is 50 ms, a MaxDelay below it ten
// times it; a MaxDelay equal to the Debounce is kept.
func TestNewDefaults(t *testing.T) {
	for _, c := range []struct{ debounce, maxDelay, wantDebounce, wantMax time.Duration }{
		{0, 0, 50 * time.Millisecond, 500 * time.Millisecond},
		{-time.Second, 0, 50 * time.Millisecond, 500 * time.Millisecond},
		{time.Millisecond, 0, time.Millisecond, 10 * time.Millisecond},
		{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
		{5 * time.Millisecond, 4 * time.Millisecond, 5 * time.Millisecond, 50 * time.Millisecond},
		{5 * time.Millisecond, time.Second, 5 * time.Millisecond, time.Second},
	} {
		ctrl := New(Config{Debounce: c.debounce, MaxDelay: c.maxDelay})
		if ctrl.cfg.Debounce != c.wantDebounce || ctrl.cfg.MaxDelay != c.wantMax {
			t.Errorf("New(Debounce %v, MaxDelay %v): %v, %v; want %v, %v", c.debounce, c.maxDelay,
				ctrl.cfg.Debounce, ctrl.cfg.MaxDelay, c.wantDebounce, c.wantMax)
		}
	}
}

// A Gateway removed from the policy stops being served: its proxies'
// group is dropped from the Publisher (they keep their last configuration,
// as Envoy does when its server goes quiet), the other Gateway's stays.
func TestRemovedGatewayIsDropped(t *testing.T) {
	other := "---\nkind: Gateway\nname: internal\nspec:\n  listeners: [{name: http, port: 8081, protocol: HTTP}]\n" +
		"---\nkind: Route\nname: in\nspec:\n  gateways: [internal]\n  backends: [{service: app}]\n"
	f := start(t, map[string]string{"all.yaml": basePolicy + other})
	internal := translate.GroupKey{Gateway: "internal", Client: translate.ClientEnvoy}
	if _, ok := f.pub.Versions(internal); !ok {
		t.Fatal("gateway internal not published")
	}
	before := f.versions(t)
	f.dir.set(map[string]string{"all.yaml": basePolicy})
	f.ctrl.PolicyChanged()
	// The controller notes its status just after Publish returns: wait for
	// both (a bounded wait), then check what each says.
	f.waitFor(t, "gateway internal dropped and status updated", func() bool {
		_, ok := f.pub.Versions(internal)
		return !ok && len(f.ctrl.Status().Gateways) == 1
	})
	if after := f.versions(t); after["routes"] != before["routes"] {
		t.Errorf("gateway public's routes changed by removing another Gateway: %v -> %v", before, after)
	}
	if st := f.ctrl.Status(); st.LastError != "" || len(st.Gateways) != 1 || st.Gateways[0] != "public" {
		t.Errorf("status after removing a Gateway: %+v", st)
	}
}

// Changes spread over less than the quiet time are one build: each change
// restarts the quiet time rather than ending the wait. (TestDebounce's
// burst can reach the loop as a single trigger; these are spaced out so
// the loop sees several.)
func TestDebounceSpacedChanges(t *testing.T) {
	f := startWith(t, map[string]string{"all.yaml": basePolicy}, 500*time.Millisecond, 10*time.Second)
	first := buildCount(t, f.reg)
	start := time.Now()
	for i := 0; i < 5; i++ {
		f.ctrl.PolicyChanged()
		time.Sleep(20 * time.Millisecond)
	}
	spread := time.Since(start)
	f.waitFor(t, "a build after the changes", func() bool { return buildCount(t, f.reg) > first })
	time.Sleep(600 * time.Millisecond) // longer than the quiet time: a second build would show
	if n := buildCount(t, f.reg) - first; n != 1 {
		t.Fatalf("5 changes over %v (quiet time 500ms) made %d builds, want 1", spread, n)
	}
	t.Logf("5 changes over %v: 1 build", spread)
}

// Without SyncRecheck, a registry that has not synced is asked again every
// 250 ms, not in a loop as fast as the debounce allows.
func TestSyncRecheckDefault(t *testing.T) {
	dir := &memFS{}
	dir.set(map[string]string{"all.yaml": basePolicy})
	var checks atomic.Int32
	ctrl := New(Config{Load: dir.load, Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
		Synced: func() bool { checks.Add(1); return false }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctrl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); checks.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
	if checks.Load() == 0 {
		t.Fatal("Synced never checked within 5s")
	}
	from := time.Now()
	time.Sleep(150 * time.Millisecond)
	n, took := checks.Load(), time.Since(from)
	// One check, or two or three if the machine is slow enough that the
	// 250ms recheck falls in the window; a loop checks dozens of times.
	if n > 3 {
		t.Fatalf("Synced checked %d times in %v, want a recheck every 250ms", n, took)
	}
	t.Logf("Synced checked %d times in the first %v", n, took)
}
