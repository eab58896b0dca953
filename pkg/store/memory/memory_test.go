package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/storetest"
)

func TestCommitHistoryReadAt(t *testing.T) {
	ctx := context.Background()
	s := New(map[string][]byte{"a.yaml": []byte("1")})
	first, _ := s.Read(ctx)
	rev, err := s.Commit(ctx, first.Revision, []store.Change{{Path: "a.yaml", Content: []byte("2")}, {Path: "b.yaml", Content: []byte("3")}}, store.Meta{Author: "ann", Message: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if rev.ID == first.Revision || rev.Author != "ann" || len(rev.Changed) != 2 {
		t.Errorf("revision %+v", rev)
	}
	// A stale base is refused and changes nothing.
	if _, err := s.Commit(ctx, first.Revision, []store.Change{{Path: "a.yaml"}}, store.Meta{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale commit: %v, want ErrConflict", err)
	}
	// No change, no revision.
	same, err := s.Commit(ctx, "", []store.Change{{Path: "a.yaml", Content: []byte("2")}}, store.Meta{})
	if err != nil || same.ID != rev.ID {
		t.Errorf("no-op commit = %+v, %v; want revision %s", same, err, rev.ID)
	}
	old, err := s.ReadAt(ctx, first.Revision)
	if err != nil || string(old.Files["a.yaml"]) != "1" || len(old.Files) != 1 {
		t.Errorf("ReadAt(first) = %v, %v", old, err)
	}
	if _, err := s.ReadAt(ctx, "0123456789abcdef"); !errors.Is(err, store.ErrUnknownRevision) {
		t.Errorf("ReadAt(unknown) = %v", err)
	}
	h, _ := s.History(ctx, 0)
	if len(h) != 2 || h[0].ID != rev.ID || h[1].ID != first.Revision {
		t.Errorf("history %+v", h)
	}
	if h, _ := s.History(ctx, 1); len(h) != 1 {
		t.Errorf("History(1) gave %d", len(h))
	}
	if _, err := s.Commit(ctx, "", []store.Change{{Path: "../x", Content: []byte("x")}}, store.Meta{}); err == nil {
		t.Error("a path leaving the store was accepted")
	}
}

func TestWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := New(nil)
	ready := make(chan struct{})
	notified := make(chan struct{}, 10)
	done := make(chan error)
	go func() { done <- s.Watch(ctx, func() { notified <- struct{}{} }, func() { close(ready) }) }()
	<-ready
	if _, err := s.Commit(ctx, "", []store.Change{{Path: "a.yaml", Content: []byte("x")}}, store.Meta{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5s of a commit")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch returned %v", err)
	}
}

// A commit made while the watch's notify runs is not lost: the watch
// notifies again once notify returns (it used to wait for the next
// commit: the conformance test's third change went unseen in one run).
func TestWatchSeesCommitDuringNotify(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := New(nil)
	ready := make(chan struct{})
	inNotify := make(chan struct{})
	release := make(chan struct{})
	notified := make(chan struct{}, 10)
	done := make(chan error)
	first := true
	go func() {
		done <- s.Watch(ctx, func() {
			if first {
				first = false
				inNotify <- struct{}{}
				<-release
			}
			notified <- struct{}{}
		}, func() { close(ready) })
	}()
	<-ready
	commit := func(v string) {
		t.Helper()
		if _, err := s.Commit(ctx, "", []store.Change{{Path: "a.yaml", Content: []byte(v)}}, store.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	commit("1")
	select {
	case <-inNotify:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5s of a commit")
	}
	commit("2") // while notify runs
	close(release)
	for i := range 2 {
		select {
		case <-notified:
		case <-time.After(5 * time.Second):
			t.Fatalf("notification %d of 2 not within 5s: the commit made during notify was lost", i+1)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch returned %v", err)
	}
}

// The memory store passes the conformance test every store passes; both
// clients share the one store, as two handlers of one process would.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, store.Store) {
		s := New(nil)
		return s, s
	})
}
