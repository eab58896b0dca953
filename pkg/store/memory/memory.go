// Package memory is a Store kept in memory: every revision's tree is kept,
// so history and rollback work. It serves dry runs and offline diff and
// validate, and tests of the code above the Store interface. Revisions,
// path rules and limits are those of every store (store/internal/tree).
package memory

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/internal/tree"
)

// Store is an in-memory store.Store. The zero value is not usable; use New.
type Store struct {
	now func() time.Time

	mu      sync.Mutex
	current *store.Tree
	history []entry // oldest first
	waiters map[chan struct{}]struct{}
	// commits counts the commits that changed the tree, so that a watch
	// notices one made while it was not waiting (in its notify).
	commits uint64
}

type entry struct {
	rev  store.Revision
	tree *store.Tree
}

// New returns a store holding files (copied); unless files is empty they
// are its first revision.
func New(files map[string][]byte) *Store {
	s := &Store{now: time.Now, waiters: map[chan struct{}]struct{}{}}
	copied := make(map[string][]byte, len(files))
	for p, b := range files {
		copied[p] = bytes.Clone(b)
	}
	s.current = &store.Tree{Revision: tree.Revision(copied), Files: copied}
	if len(copied) > 0 {
		s.history = []entry{{rev: store.Revision{ID: s.current.Revision, Time: s.now().UTC(), Message: "initial content", Changed: tree.SortedPaths(copied)}, tree: s.current}}
	}
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
	cloned := make([]store.Change, len(changes))
	for i, c := range changes {
		cloned[i] = store.Change{Path: c.Path, Content: bytes.Clone(c.Content)}
		if c.Content != nil && cloned[i].Content == nil {
			cloned[i].Content = []byte{} // an empty file, not a removal
		}
	}
	files, changed, err := tree.Apply(s.current.Files, cloned, store.Limits{})
	if err != nil {
		return store.Revision{}, err
	}
	if len(changed) == 0 {
		return store.Revision{ID: s.current.Revision}, nil
	}
	t := &store.Tree{Revision: tree.Revision(files), Files: files}
	rev := store.Revision{ID: t.Revision, Time: s.now().UTC(), Author: meta.Author, Message: meta.Message, Changed: changed}
	s.current = t
	s.history = append(s.history, entry{rev: rev, tree: t})
	s.commits++
	for w := range s.waiters {
		close(w)
		delete(s.waiters, w)
	}
	return rev, nil
}

// Watch calls notify after every commit until ctx ends. Commits made
// while notify runs are not lost: they are counted, and the next round
// notifies at once (one call for any number of them).
func (s *Store) Watch(ctx context.Context, notify, ready func()) error {
	s.mu.Lock()
	seen := s.commits
	s.mu.Unlock()
	if ready != nil {
		ready()
	}
	for {
		s.mu.Lock()
		if s.commits != seen {
			seen = s.commits
			s.mu.Unlock()
			notify()
			continue
		}
		w := make(chan struct{})
		s.waiters[w] = struct{}{}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			s.mu.Lock()
			delete(s.waiters, w)
			s.mu.Unlock()
			return nil
		case <-w:
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
// content hashes, so restored content has an earlier revision's ID again;
// either entry holds the same tree.
func (s *Store) ReadAt(ctx context.Context, revision string) (*store.Tree, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.history) - 1; i >= 0; i-- {
		if s.history[i].rev.ID == revision {
			return s.history[i].tree, nil
		}
	}
	return nil, fmt.Errorf("revision %q: %w", revision, store.ErrUnknownRevision)
}
