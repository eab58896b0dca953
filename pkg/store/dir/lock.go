package dir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lock is an flock(2) on the lock file of the store's meta directory. It
// serializes commits of every gatehouse process and CLI run on one
// directory (and of goroutines of one process: each lock opens its own
// file description). Readers take it shared, so they never see half of a
// commit made by gatehouse; hand edits take no lock.
type lock struct{ f *os.File }

// errReadOnly: the meta directory cannot be created or written (a
// read-only mount, such as a Kubernetes ConfigMap). Such a store can be
// read and watched, not committed to.
var errReadOnly = errors.New("the policy directory is read-only")

func (s *Store) lock(ctx context.Context, exclusive bool) (*lock, error) {
	if err := os.MkdirAll(s.meta, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", errReadOnly, err)
	}
	f, err := os.OpenFile(filepath.Join(s.meta, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errReadOnly, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	// Poll with LOCK_NB so that ctx can end the wait; commits take
	// milliseconds, so the poll interval is short.
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return &lock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock of %s (another gatehouse is committing): %w", f.Name(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// unlock releases the lock (closing the file releases the flock).
func (l *lock) unlock() { l.f.Close() }
