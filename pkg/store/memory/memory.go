// Package memory is a Store kept in memory: every revision's tree is kept,
// so history and rollback work. It serves dry runs and offline diff and
// validate, and tests of the code above the Store interface.
package memory

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// Store is an in-memory store.Store. The zero value is not usable; use New.
type Store struct {
	now func() time.Time

	mu      sync.Mutex
	current *store.Tree
	history []entry // oldest first
	waiters map[chan struct{}]struct{}
}

type entry struct {
	rev  store.Revision
	tree *store.Tree
}

// New returns a store holding files (copied) as its first revision.
func New(files map[string][]byte) *Store {
	s := &Store{now: time.Now, waiters: map[chan struct{}]struct{}{}}
	t := &store.Tree{Revision: "1", Files: copyFiles(files)}
	s.current = t
	s.history = []entry{{rev: store.Revision{ID: t.Revision, Time: s.now().UTC(), Message: "initial content", Changed: slices.Sorted(maps.Keys(t.Files))}, tree: t}}
	return s
}

// Read returns the current tree.
func (s *Store) Read(ctx context.Context) (*store.Tree, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, nil
}

// Commit applies changes if base is the current revision (or "").
func (s *Store) Commit(ctx context.Context, base string, changes []store.Change, meta store.Meta) (store.Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if base != "" && base != s.current.Revision {
		return store.Revision{}, fmt.Errorf("commit based on revision %s, current is %s: %w", base, s.current.Revision, store.ErrConflict)
	}
	files := copyFiles(s.current.Files)
	var changed []string
	for _, c := range changes {
		if err := store.CheckPath(c.Path); err != nil {
			return store.Revision{}, err
		}
		old, had := files[c.Path]
		switch {
		case c.Content == nil && had:
			delete(files, c.Path)
		case c.Content != nil && (!had || !bytes.Equal(old, c.Content)):
			files[c.Path] = bytes.Clone(c.Content)
		default:
			continue
		}
		changed = append(changed, c.Path)
	}
	if len(changed) == 0 {
		return s.history[len(s.history)-1].rev, nil
	}
	t := &store.Tree{Revision: strconv.Itoa(len(s.history) + 1), Files: files}
	slices.Sort(changed)
	rev := store.Revision{ID: t.Revision, Time: s.now().UTC(), Author: meta.Author, Message: meta.Message, Changed: slices.Compact(changed)}
	s.current = t
	s.history = append(s.history, entry{rev: rev, tree: t})
	for w := range s.waiters {
		close(w)
		delete(s.waiters, w)
	}
	return rev, nil
}

// Watch calls notify after every commit until ctx ends.
func (s *Store) Watch(ctx context.Context, notify, ready func()) error {
	for first := true; ; first = false {
		w := make(chan struct{})
		s.mu.Lock()
		s.waiters[w] = struct{}{}
		s.mu.Unlock()
		if first && ready != nil {
			ready()
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			delete(s.waiters, w)
			s.mu.Unlock()
			return nil
		case <-w:
			notify()
		}
	}
}

// History lists up to limit revisions (all when limit <= 0), newest first.
func (s *Store) History(ctx context.Context, limit int) ([]store.Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Revision
	for i := len(s.history) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		out = append(out, s.history[i].rev)
	}
	return out, nil
}

// ReadAt returns the tree of a revision of the history. Revisions are
// numbered from 1 in commit order.
func (s *Store) ReadAt(ctx context.Context, revision string) (*store.Tree, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := strconv.Atoi(revision)
	if err != nil || n < 1 || n > len(s.history) {
		return nil, fmt.Errorf("revision %q: %w", revision, store.ErrUnknownRevision)
	}
	return s.history[n-1].tree, nil
}

func copyFiles(in map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(in))
	for p, b := range in {
		out[p] = bytes.Clone(b)
	}
	return out
}
