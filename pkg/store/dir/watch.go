// Package dir is the default policy store: a directory of YAML files,
// watched for changes.
package dir

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch calls notify whenever something under root may have changed, until
// ctx ends. It watches every directory under root (inotify is per
// directory, and editors replace files by renaming), adds directories as
// they appear, and also calls notify every resync interval so that changes
// it cannot see (files named from outside root, network filesystems) are
// picked up too. Directories received on extra (those of files policies
// name outside root, such as ../policies/x.rego) are watched as well, so
// edits there are as fast as edits inside. notify must not block for long;
// the controller debounces.
func Watch(ctx context.Context, root string, resync time.Duration, extra <-chan []string, notify func()) error {
	return WatchReady(ctx, root, resync, extra, notify, nil)
}

// WatchReady is Watch, calling ready (if not nil) once every directory
// under root is watched: a change made after ready returns is seen.
func WatchReady(ctx context.Context, root string, resync time.Duration, extra <-chan []string, notify, ready func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", root, err)
	}
	defer w.Close()
	if err := addTree(w, root); err != nil {
		return err
	}
	if ready != nil {
		ready()
	}
	var tick <-chan time.Time
	if resync > 0 {
		t := time.NewTicker(resync)
		defer t.Stop()
		tick = t.C
	}
	watched := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case dirs := <-extra:
			for _, d := range dirs {
				if !watched[d] {
					// A directory that does not exist yet is retried with
					// the next list; the resync covers it meanwhile.
					watched[d] = w.Add(d) == nil
				}
			}
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() && !hidden(filepath.Base(ev.Name)) {
					// A new directory may already hold files: add it, then notify.
					_ = addTree(w, ev.Name)
				}
			}
			if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write) {
				continue // touch/chmod alone changes no content
			}
			notify()
		case _, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An error (such as an overflowed queue) means events may have
			// been missed: reload everything.
			notify()
		case <-tick:
			notify()
		}
	}
}

func addTree(w *fsnotify.Watcher, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("watching %s: %w", p, err)
		}
		if !d.IsDir() {
			return nil
		}
		if p != root && hidden(d.Name()) {
			return filepath.SkipDir
		}
		if err := w.Add(p); err != nil {
			return fmt.Errorf("watching %s: %w", p, err)
		}
		return nil
	})
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") && name != "." && name != ".." }
