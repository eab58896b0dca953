package dir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/internal/tree"
)

// MetaDir is the hidden directory under the root where the store keeps
// its lock file and history. The policy loader skips it, as it skips
// every hidden file and directory.
const MetaDir = ".gatehouse"

// Options configure a Store. Zero values take the defaults noted.
type Options struct {
	// Resync makes Watch notify at least this often (0: only on events).
	Resync time.Duration
	// ExtraDirs receives the directories of files that policies name
	// outside the root; Watch watches them too.
	ExtraDirs <-chan []string
	Limits    store.Limits
	// HistoryLimit is how many revisions are kept (default 100).
	HistoryLimit int
	Now          func() time.Time // default time.Now
}

// Store is a policy directory as a store.Store: every non-hidden file
// under the root is part of the tree, the revision is a hash of their
// content (so hand edits are revisions too), commits write files
// atomically under an flock, and the history lives in MetaDir.
type Store struct {
	root string
	meta string
	opts Options

	mu   sync.Mutex
	seen string // the newest revision known to be the head of the history
}

var _ store.Store = (*Store)(nil)

// New returns the store of the directory root, which must exist.
func New(root string, opts Options) (*Store, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("policy directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("policy directory %s is not a directory", root)
	}
	opts.Limits = opts.Limits.WithDefaults()
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = tree.HistoryLimit
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{root: root, meta: filepath.Join(root, MetaDir), opts: opts}, nil
}

// Read returns the tree. It takes the lock shared, so it never sees half
// of a commit; content that no commit made gets its history entry here
// (see observe).
func (s *Store) Read(ctx context.Context) (*store.Tree, error) {
	files, err := s.readShared(ctx)
	if err != nil {
		return nil, err
	}
	t := &store.Tree{Revision: tree.Revision(files), Files: files}
	// The tree is right whether or not its history entry could be
	// written; History and Commit report that error.
	_ = s.observe(ctx, t.Revision)
	return t, nil
}

func (s *Store) readShared(ctx context.Context) (map[string][]byte, error) {
	l, err := s.lock(ctx, false)
	switch {
	case errors.Is(err, errReadOnly):
		// Nothing can commit to a read-only directory: no lock is needed.
	case err != nil:
		return nil, err
	default:
		defer l.unlock()
	}
	return s.readFiles()
}

// observe records the current content as a revision of its own if the
// history's newest entry is another one (a hand edit, or the content
// found when the history started).
func (s *Store) observe(ctx context.Context, rev string) error {
	s.mu.Lock()
	seen := s.seen
	s.mu.Unlock()
	if rev == seen {
		return nil
	}
	l, err := s.lock(ctx, true)
	if err != nil {
		return err
	}
	defer l.unlock()
	files, err := s.readFiles()
	if err != nil {
		return err
	}
	_, err = s.observeLocked(files)
	return err
}

// readFiles reads every non-hidden file under the root. Symbolic links to
// files are followed (mounted ConfigMaps are made of them); anything that
// is not a regular file is an error naming it, as is a tree over the
// limits.
func (s *Store) readFiles() (map[string][]byte, error) {
	files := map[string][]byte{}
	count := tree.Counter{Limits: s.opts.Limits}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == s.root {
			return nil
		}
		if hidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%s): remove it from the policy directory", rel, st.Mode().Type())
		}
		if err := count.Add(rel, st.Size()); err != nil {
			return err
		}
		data, err := readBounded(p, s.opts.Limits.MaxFileSize)
		if err != nil {
			return err
		}
		files[rel] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading policy directory %s: %w", s.root, err)
	}
	return files, nil
}

// readBounded reads a file of at most max bytes (it may have grown since
// it was counted).
func readBounded(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s grew over %d bytes while being read", p, max)
	}
	return data, nil
}

// Watch notifies on every change under the root (see WatchReady).
func (s *Store) Watch(ctx context.Context, notify, ready func()) error {
	return WatchReady(ctx, s.root, s.opts.Resync, s.opts.ExtraDirs, notify, ready)
}
