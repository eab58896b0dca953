package dir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/internal/tree"
)

// Commit writes changes under the exclusive lock if the content is still
// at base. Each file is written atomically (a temporary file in its
// directory, fsynced, renamed over the old one), so a reader never sees
// half a file; readers that take the lock (Read) never see half a commit.
func (s *Store) Commit(ctx context.Context, base string, changes []store.Change, meta store.Meta) (store.Revision, error) {
	l, err := s.lock(ctx, true)
	if err != nil {
		return store.Revision{}, fmt.Errorf("committing to %s: %w", s.root, err)
	}
	defer l.unlock()
	files, err := s.readFiles()
	if err != nil {
		return store.Revision{}, err
	}
	head, err := s.observeLocked(files)
	if err != nil {
		return store.Revision{}, err
	}
	if base != "" && base != head.ID {
		return store.Revision{}, fmt.Errorf("%w (based on revision %s, the policy directory is at %s): read it again and redo the change", store.ErrConflict, base, head.ID)
	}
	next, changed, err := tree.Apply(files, changes, s.opts.Limits)
	if err != nil {
		return store.Revision{}, err
	}
	if len(changed) == 0 {
		return head.Revision(), nil
	}
	rec := &tree.Record{ID: tree.Revision(next), Time: s.opts.Now().UTC(), Author: meta.Author,
		Message: meta.Message, Changed: changed, Files: tree.Manifest(next)}
	// Blobs first: once a file is written the history must be able to
	// give it back.
	if err := s.writeBlobs(next, changed); err != nil {
		return store.Revision{}, err
	}
	for _, p := range changed {
		full := filepath.Join(s.root, filepath.FromSlash(p))
		if content, ok := next[p]; ok {
			err = writeAtomic(full, content)
		} else {
			err = s.remove(full)
		}
		if err != nil {
			// The files written so far stay: the next read records them
			// as a hand edit, and the commit is reported as failed.
			return store.Revision{}, fmt.Errorf("committing %s: %w", p, err)
		}
	}
	if err := s.appendRecord(rec); err != nil {
		return store.Revision{}, err
	}
	s.setSeen(rec.ID)
	return rec.Revision(), nil
}

// writeAtomic replaces path with content: a reader sees the old file or
// the new one, never a part. The mode of an existing file is kept.
func writeAtomic(path string, content []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	// Hidden, so neither the loader nor Read takes it for policy.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// remove deletes a file and the directories it leaves empty, up to the
// root.
func (s *Store) remove(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	dir := filepath.Dir(path)
	for dir != s.root && len(dir) > len(s.root) {
		if os.Remove(dir) != nil {
			break // not empty (or not ours to remove): stop
		}
		dir = filepath.Dir(dir)
	}
	return syncDir(dir)
}
