package dir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/internal/tree"
)

// The history lives in MetaDir: history/NNNNNNNNNN.json is one revision
// (who, when, why, what changed, and the manifest of the tree: each path's
// content hash), blobs/<sha256> is a content. The newest HistoryLimit
// revisions are kept; blobs no kept revision names are deleted with the
// revisions that named them.

func (s *Store) historyDir() string { return filepath.Join(s.meta, "history") }
func (s *Store) blobDir() string    { return filepath.Join(s.meta, "blobs") }

func (s *Store) setSeen(rev string) {
	s.mu.Lock()
	s.seen = rev
	s.mu.Unlock()
}

// observeLocked returns the history's head for files (read under the
// exclusive lock), first recording files as a revision of its own if no
// commit made them.
func (s *Store) observeLocked(files map[string][]byte) (*tree.Record, error) {
	cur := tree.Revision(files)
	names, err := s.recordNames()
	if err != nil {
		return nil, err
	}
	var head *tree.Record
	if len(names) > 0 {
		if head, err = s.readRecord(names[len(names)-1]); err != nil {
			return nil, err
		}
	}
	switch {
	case head != nil && head.ID == cur:
	case head == nil && len(files) == 0:
		// An empty directory with no history: nothing to record yet.
		head = &tree.Record{ID: cur, Files: map[string]string{}}
	default:
		head = tree.HandEdit(head, files, s.opts.Now())
		if err := s.writeBlobs(files, head.Changed); err != nil {
			return nil, err
		}
		if err := s.appendRecord(head); err != nil {
			return nil, err
		}
	}
	s.setSeen(cur)
	return head, nil
}

// writeBlobs stores the content of the listed paths that files holds.
func (s *Store) writeBlobs(files map[string][]byte, paths []string) error {
	for _, p := range paths {
		content, ok := files[p]
		if !ok {
			continue
		}
		path := filepath.Join(s.blobDir(), tree.BlobID(content))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := writeAtomic(path, content); err != nil {
			return fmt.Errorf("writing the history of %s: %w", p, err)
		}
	}
	return nil
}

// recordNames lists the history's files, oldest first.
func (s *Store) recordNames() ([]string, error) {
	ents, err := os.ReadDir(s.historyDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the history: %w", err)
	}
	var names []string
	for _, e := range ents {
		if seqOf(e.Name()) >= 0 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// seqOf is the sequence number of a history file name, -1 if it is none.
func seqOf(name string) int64 {
	num, ok := strings.CutSuffix(name, ".json")
	if !ok || len(num) != 10 {
		return -1
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func (s *Store) readRecord(name string) (*tree.Record, error) {
	data, err := os.ReadFile(filepath.Join(s.historyDir(), name))
	if err != nil {
		return nil, fmt.Errorf("reading the history: %w", err)
	}
	var r tree.Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("history entry %s is damaged (%v): remove it", filepath.Join(s.historyDir(), name), err)
	}
	return &r, nil
}

// appendRecord writes rec as the newest revision and drops the oldest
// beyond HistoryLimit with the blobs only they named.
func (s *Store) appendRecord(rec *tree.Record) error {
	names, err := s.recordNames()
	if err != nil {
		return err
	}
	var seq int64
	if len(names) > 0 {
		seq = seqOf(names[len(names)-1]) + 1
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%010d.json", seq)
	if err := writeAtomic(filepath.Join(s.historyDir(), name), data); err != nil {
		return fmt.Errorf("writing the history: %w", err)
	}
	names = append(names, name)
	if len(names) <= s.opts.HistoryLimit {
		return nil
	}
	drop, keep := names[:len(names)-s.opts.HistoryLimit], names[len(names)-s.opts.HistoryLimit:]
	for _, n := range drop {
		if err := os.Remove(filepath.Join(s.historyDir(), n)); err != nil {
			return fmt.Errorf("trimming the history: %w", err)
		}
	}
	used := map[string]bool{}
	for _, n := range keep {
		r, err := s.readRecord(n)
		if err != nil {
			return err
		}
		for _, id := range r.Files {
			used[id] = true
		}
	}
	blobs, err := os.ReadDir(s.blobDir())
	if err != nil {
		return fmt.Errorf("trimming the history: %w", err)
	}
	for _, b := range blobs {
		if !used[b.Name()] && !hidden(b.Name()) {
			if err := os.Remove(filepath.Join(s.blobDir(), b.Name())); err != nil {
				return fmt.Errorf("trimming the history: %w", err)
			}
		}
	}
	return nil
}

// History lists up to limit revisions, newest first, after recording the
// current content if no commit made it.
func (s *Store) History(ctx context.Context, limit int) ([]store.Revision, error) {
	l, err := s.lock(ctx, true)
	if errors.Is(err, errReadOnly) {
		return nil, nil // a read-only directory has no history
	}
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	files, err := s.readFiles()
	if err != nil {
		return nil, err
	}
	if _, err := s.observeLocked(files); err != nil {
		return nil, err
	}
	names, err := s.recordNames()
	if err != nil {
		return nil, err
	}
	var out []store.Revision
	for i := len(names) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		r, err := s.readRecord(names[i])
		if err != nil {
			return nil, err
		}
		out = append(out, r.Revision())
	}
	return out, nil
}

// ReadAt rebuilds the tree of a revision from its history entry.
func (s *Store) ReadAt(ctx context.Context, revision string) (*store.Tree, error) {
	l, err := s.lock(ctx, false)
	if err != nil && !errors.Is(err, errReadOnly) {
		return nil, err
	}
	if err == nil {
		defer l.unlock()
	}
	names, err := s.recordNames()
	if err != nil {
		return nil, err
	}
	for i := len(names) - 1; i >= 0; i-- {
		r, err := s.readRecord(names[i])
		if err != nil {
			return nil, err
		}
		if r.ID != revision {
			continue
		}
		files := make(map[string][]byte, len(r.Files))
		for p, id := range r.Files {
			if !tree.ValidBlobID(id) || tree.CheckPath(p) != nil {
				return nil, fmt.Errorf("revision %s: the history entry is damaged (file %q, content %q): remove it", revision, p, id)
			}
			data, err := os.ReadFile(filepath.Join(s.blobDir(), id))
			if err != nil {
				return nil, fmt.Errorf("revision %s: the content of %s is missing from the history: %w", revision, p, err)
			}
			files[p] = data
		}
		return &store.Tree{Revision: r.ID, Files: files}, nil
	}
	return nil, fmt.Errorf("%w: %s is not among the last %d revisions of %s", store.ErrUnknownRevision, revision, s.opts.HistoryLimit, s.root)
}
