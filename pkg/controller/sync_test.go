package controller

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Until Synced reports true nothing is published and the controller is not
// ready; OnPolicy sees every loaded policy; the first registry update after
// the sync completes the held-back build.
func TestFirstPublishWaitsForSync(t *testing.T) {
	pub, err := server.NewPublisher(server.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := &memFS{}
	dir.set(map[string]string{"all.yaml": basePolicy})
	var synced atomic.Bool
	var checks atomic.Int32
	var seen atomic.Pointer[policy.Snapshot]
	ctrl := New(Config{Load: dir.load, Publisher: pub, Debounce: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
		OnPolicy: func(s *policy.Snapshot) { seen.Store(s) },
		Synced:   func() bool { checks.Add(1); return synced.Load() }, SyncRecheck: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctrl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	deadline := time.Now().Add(5 * time.Second)
	for seen.Load() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s := seen.Load()
	if s == nil || s.Services["users"] == nil || s.Services["users"].Spec.Discovery.Consul == nil {
		t.Fatalf("OnPolicy not called with the loaded policy: %v", s)
	}
	for checks.Load() < 3 && time.Now().Before(deadline) { // several rechecks, each a build pass
		time.Sleep(5 * time.Millisecond)
	}
	if n := checks.Load(); n < 3 {
		t.Fatalf("Synced checked %d times within 5s, want rechecks", n)
	}
	if ctrl.Ready() {
		t.Fatal("ready before the registry synced")
	}
	if _, ok := pub.Versions(translate.GroupKey{Gateway: "public", Client: translate.ClientEnvoy}); ok {
		t.Fatal("a snapshot was published before the registry synced")
	}
	if st := ctrl.Status(); st.WaitingFor == "" {
		t.Fatalf("status does not say what it waits for: %+v", st)
	}

	synced.Store(true)
	ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.1", Port: 80, Weight: 1}}})
	for !ctrl.Ready() && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(5 * time.Millisecond)
	}
	if !ctrl.Ready() {
		t.Fatalf("not ready after the sync: %+v", ctrl.Status())
	}
	if _, ok := pub.Versions(translate.GroupKey{Gateway: "public", Client: translate.ClientEnvoy}); !ok {
		t.Fatal("nothing published after the sync")
	}
	if st := ctrl.Status(); st.WaitingFor != "" {
		t.Fatalf("still waiting after publishing: %+v", st)
	}
}
