// Package storetest is the conformance test every store.Store passes: run
// it from the store's own tests with a factory of fresh stores.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/internal/tree"
)

// Factory returns two clients of one new, empty store: b stands for
// another process or replica (its own client, its own state).
type Factory func(t *testing.T) (a, b store.Store)

// Run runs the conformance tests.
func Run(t *testing.T, open Factory) {
	t.Run("CommitRead", func(t *testing.T) { testCommitRead(t, open) })
	t.Run("StaleBase", func(t *testing.T) { testStaleBase(t, open) })
	t.Run("NoOpAndDelete", func(t *testing.T) { testNoOpAndDelete(t, open) })
	t.Run("BadPaths", func(t *testing.T) { testBadPaths(t, open) })
	t.Run("HistoryAndReadAt", func(t *testing.T) { testHistory(t, open) })
	t.Run("WatchSeesOtherClient", func(t *testing.T) { testWatch(t, open) })
	t.Run("ConcurrentCommits", func(t *testing.T) { testConcurrent(t, open) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func read(t *testing.T, s store.Store) *store.Tree {
	t.Helper()
	tr, err := s.Read(ctx(t))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return tr
}

func commit(t *testing.T, s store.Store, base string, msg string, changes ...store.Change) store.Revision {
	t.Helper()
	rev, err := s.Commit(ctx(t), base, changes, store.Meta{Author: "alice", Message: msg})
	if err != nil {
		t.Fatalf("Commit %q: %v", msg, err)
	}
	return rev
}

func put(path, content string) store.Change {
	return store.Change{Path: path, Content: []byte(content)}
}
func del(path string) store.Change { return store.Change{Path: path} }

func wantFiles(t *testing.T, tr *store.Tree, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for p, c := range tr.Files {
		got[p] = string(c)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	files := map[string][]byte{}
	for p, c := range want {
		files[p] = []byte(c)
	}
	if tr.Revision != tree.Revision(files) {
		t.Fatalf("revision %s is not the content hash %s of the files", tr.Revision, tree.Revision(files))
	}
}

func testCommitRead(t *testing.T, open Factory) {
	a, b := open(t)
	empty := read(t, a)
	wantFiles(t, empty, map[string]string{})
	rev := commit(t, a, empty.Revision, "first", put("gw.yaml", "kind: Gateway\n"), put("rego/users.rego", "package users\n"))
	if rev.ID == empty.Revision || rev.Author != "alice" || rev.Message != "first" || rev.Time.IsZero() {
		t.Fatalf("revision %+v: want a new ID, the author, message and time", rev)
	}
	if !slices.Equal(rev.Changed, []string{"gw.yaml", "rego/users.rego"}) {
		t.Fatalf("changed = %v", rev.Changed)
	}
	// The other client reads the same tree and revision.
	tr := read(t, b)
	wantFiles(t, tr, map[string]string{"gw.yaml": "kind: Gateway\n", "rego/users.rego": "package users\n"})
	if tr.Revision != rev.ID {
		t.Fatalf("read revision %s, commit said %s", tr.Revision, rev.ID)
	}
}

func testStaleBase(t *testing.T, open Factory) {
	a, b := open(t)
	base := read(t, a).Revision
	r1 := commit(t, a, base, "one", put("a.yaml", "1"))
	_, err := b.Commit(ctx(t), base, []store.Change{put("a.yaml", "2")}, store.Meta{Author: "bob"})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("commit on a stale base: err = %v, want ErrConflict", err)
	}
	tr := read(t, b)
	wantFiles(t, tr, map[string]string{"a.yaml": "1"})
	// Based on the current revision it goes through; base "" skips the check.
	r2 := commit(t, b, r1.ID, "two", put("a.yaml", "2"))
	commit(t, a, "", "three", put("b.yaml", "3"))
	if _, err := a.Commit(ctx(t), r2.ID, []store.Change{put("a.yaml", "4")}, store.Meta{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second stale commit: err = %v, want ErrConflict", err)
	}
}

func testNoOpAndDelete(t *testing.T, open Factory) {
	a, _ := open(t)
	r1 := commit(t, a, "", "one", put("a.yaml", "1"), put("d/b.yaml", "2"))
	same := commit(t, a, r1.ID, "again", put("a.yaml", "1"), del("missing.yaml"))
	if same.ID != r1.ID {
		t.Fatalf("a commit changing nothing made revision %s (was %s)", same.ID, r1.ID)
	}
	hist, err := a.History(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 {
		t.Fatalf("history after a no-op commit: %d entries, want 1: %+v", len(hist), hist)
	}
	r2 := commit(t, a, r1.ID, "delete", del("d/b.yaml"))
	if !slices.Equal(r2.Changed, []string{"d/b.yaml"}) {
		t.Fatalf("changed = %v", r2.Changed)
	}
	wantFiles(t, read(t, a), map[string]string{"a.yaml": "1"})
	r3 := commit(t, a, r2.ID, "delete all", del("a.yaml"))
	tr := read(t, a)
	wantFiles(t, tr, map[string]string{})
	if tr.Revision != r3.ID {
		t.Fatalf("empty tree revision %s, commit said %s", tr.Revision, r3.ID)
	}
}

func testBadPaths(t *testing.T, open Factory) {
	a, _ := open(t)
	for _, p := range []string{"", "/etc/passwd", "../x.yaml", "a/../../x.yaml", "./a.yaml", ".gatehouse/history/x", "d/.hidden.yaml", `a\b.yaml`, "a//b.yaml", "a/"} {
		_, err := a.Commit(ctx(t), "", []store.Change{put("ok.yaml", "x"), put(p, "y")}, store.Meta{})
		if err == nil {
			t.Errorf("path %q: committed, want an error", p)
		}
	}
	if _, err := a.Commit(ctx(t), "", []store.Change{put("a.yaml", "1"), put("a.yaml", "2")}, store.Meta{}); err == nil {
		t.Error("one path changed twice: committed, want an error")
	}
	commit(t, a, "", "file", put("a", "1"))
	if _, err := a.Commit(ctx(t), "", []store.Change{put("a/b.yaml", "2")}, store.Meta{}); err == nil {
		t.Error("a file under a file: committed, want an error")
	}
	wantFiles(t, read(t, a), map[string]string{"a": "1"})
}

func testHistory(t *testing.T, open Factory) {
	a, b := open(t)
	r1 := commit(t, a, "", "one", put("a.yaml", "1"), put("b.yaml", "1"))
	r2 := commit(t, b, r1.ID, "two", put("a.yaml", "2"))
	r3 := commit(t, a, r2.ID, "three", del("b.yaml"), put("c/c.yaml", "3"))
	hist, err := b.History(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids, msgs []string
	for _, h := range hist {
		ids, msgs = append(ids, h.ID), append(msgs, h.Message)
	}
	if !slices.Equal(ids, []string{r3.ID, r2.ID, r1.ID}) || !slices.Equal(msgs, []string{"three", "two", "one"}) {
		t.Fatalf("history = %v %v, want newest first", ids, msgs)
	}
	if !slices.Equal(hist[0].Changed, []string{"b.yaml", "c/c.yaml"}) || hist[0].Author != "alice" {
		t.Fatalf("newest entry %+v", hist[0])
	}
	if !hist[0].Time.After(hist[2].Time) && !hist[0].Time.Equal(hist[2].Time) {
		t.Fatalf("times not in order: %v", hist)
	}
	if two, err := b.History(ctx(t), 2); err != nil || len(two) != 2 || two[0].ID != r3.ID {
		t.Fatalf("History(2) = %v, %v", two, err)
	}
	old, err := b.ReadAt(ctx(t), r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles(t, old, map[string]string{"a.yaml": "1", "b.yaml": "1"})
	mid, err := a.ReadAt(ctx(t), r2.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles(t, mid, map[string]string{"a.yaml": "2", "b.yaml": "1"})
	if _, err := a.ReadAt(ctx(t), "0123456789abcdef"); !errors.Is(err, store.ErrUnknownRevision) {
		t.Fatalf("ReadAt of an unknown revision: err = %v", err)
	}
	// Restoring an old tree is a new revision with the old content.
	r4 := commit(t, a, r3.ID, "rollback to one", put("a.yaml", "1"), put("b.yaml", "1"), del("c/c.yaml"))
	if r4.ID != r1.ID {
		t.Fatalf("same content, revision %s, want %s", r4.ID, r1.ID)
	}
	if hist, _ := a.History(ctx(t), 0); len(hist) != 4 || hist[0].Message != "rollback to one" {
		t.Fatalf("history after the rollback: %+v", hist)
	}
}

func testWatch(t *testing.T, open Factory) {
	a, b := open(t)
	wctx, cancel := context.WithCancel(context.Background())
	notified := make(chan struct{}, 100)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.Watch(wctx, func() { notified <- struct{}{} }, func() { close(ready) })
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Watch did not return within 10s of its context ending")
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("watch not ready within 10s")
	}
	for i := range 3 {
		// Drain what earlier steps caused, then commit from the other client.
		for len(notified) > 0 {
			<-notified
		}
		start := time.Now()
		commit(t, b, "", fmt.Sprint("change ", i), put("a.yaml", fmt.Sprint(i)))
		select {
		case <-notified:
			t.Logf("change %d seen by the watch %v after the commit returned", i, time.Since(start).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			t.Fatalf("change %d: no notification within 10s", i)
		}
	}
}

func testConcurrent(t *testing.T, open Factory) {
	a, b := open(t)
	base := commit(t, a, "", "base", put("a.yaml", "0")).ID
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range []store.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Commit(ctx(t), base, []store.Change{put("a.yaml", fmt.Sprintf("%d-%d", round, i))}, store.Meta{Author: fmt.Sprint("writer ", i)})
			}()
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d writer %d: %v", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d commits on one base went through, want exactly 1 (errors %v)", round, won, errs)
		}
		tr := read(t, a)
		hist, err := a.History(ctx(t), 1)
		if err != nil || len(hist) != 1 || hist[0].ID != tr.Revision {
			t.Fatalf("round %d: head of history %v (%v), tree at %s", round, hist, err, tr.Revision)
		}
		base = tr.Revision
	}
}
