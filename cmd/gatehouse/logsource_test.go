package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// fakeSource is a discovery source whose state the test sets.
type fakeSource struct {
	mu                sync.Mutex
	err               string
	reachable, synced bool
}

func (f *fakeSource) Name() string               { return "fake" }
func (f *fakeSource) SetPolicy(*policy.Snapshot) {}
func (f *fakeSource) Run(ctx context.Context)    { <-ctx.Done() }
func (f *fakeSource) Synced() bool               { f.mu.Lock(); defer f.mu.Unlock(); return f.synced }
func (f *fakeSource) Up() bool                   { f.mu.Lock(); defer f.mu.Unlock(); return f.reachable }
func (f *fakeSource) Watching() int              { return 1 }
func (f *fakeSource) set(err string, up, ok bool) {
	f.mu.Lock()
	f.err, f.reachable, f.synced = err, up, ok
	f.mu.Unlock()
}

// syncBuffer is a bytes.Buffer safe for the logger's and the test's use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestLogSource: an error, the backend going away and coming back, and the
// first sync are each logged once, with the backend's attributes.
func TestLogSource(t *testing.T) {
	src := &fakeSource{reachable: true}
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		logSource(ctx, src, log, sourceLog{
			what: "fake backend",
			state: func() (string, bool, bool, []any) {
				src.mu.Lock()
				defer src.mu.Unlock()
				return src.err, src.reachable, src.synced, []any{"address", "a:1"}
			},
			synced: func() (string, []any) { return "fake: synced", []any{"services", 2} },
		})
	}()
	defer func() { cancel(); <-done }()
	waitLog := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second) // ticks are 1 s apart
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after 10s:\n%s", want, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	src.set("connection refused", false, false)
	waitLog(`msg="fake backend unreachable: serving the last known endpoints" address=a:1`)
	waitLog(`level=ERROR msg=fake err="connection refused" address=a:1 reachable=false`)
	src.set("", true, true)
	waitLog(`msg="fake backend reachable again" address=a:1`)
	waitLog(`msg="fake: synced" services=2`)
	time.Sleep(1500 * time.Millisecond) // at least one more tick: nothing repeats
	for _, line := range []string{"unreachable", "reachable again", "fake: synced", "connection refused"} {
		if n := strings.Count(out.String(), line); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", line, n, out.String())
		}
	}
}
