package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// cacheGuard keeps a mutation run from filling the disk. Every mutant
// compiles its package (and the packages that import it in the test) under
// a new action ID, so Go's build cache grows by tens of megabytes per
// mutant and never reuses the entries: CI once ran out of space after a few
// hundred mutants, and the link failures it caused were reported as
// survivors. The guard remembers the cache entries that existed when the
// run began and, between mutants, deletes the ones made since. Workers
// hold the read lock while `go test` runs, trim takes the write lock, so
// no go command is running while entries are removed.
type cacheGuard struct {
	mu     sync.RWMutex
	dir    string              // GOCACHE; "" when unknown (the guard does nothing)
	before map[string]struct{} // cache files present at the start, relative to dir
	every  int                 // trim after this many mutants
	count  int                 // mutants since the last trim (under cmu)
	cmu    sync.Mutex
	freed  int64 // bytes removed by all trims
}

// newCacheGuard reads the cache's files. An unknown or unreadable cache
// gives a guard that does nothing: the run still works, only unguarded.
func newCacheGuard(w io.Writer, every int) *cacheGuard {
	g := &cacheGuard{every: every, before: map[string]struct{}{}}
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" || dir == "off" {
		fmt.Fprintf(w, "mutate: build cache unknown (%v): not trimmed between mutants\n", err)
		return g
	}
	err = walkCache(dir, func(rel string, _ fs.FileInfo) { g.before[rel] = struct{}{} })
	if err != nil {
		fmt.Fprintf(w, "mutate: build cache %s unreadable (%v): not trimmed between mutants\n", dir, err)
		return g
	}
	g.dir = dir
	return g
}

// walkCache calls f for every file of the cache's entry directories (the
// 256 two-hex-digit ones), not for the fuzz corpus or the trim stamp.
func walkCache(dir string, f func(rel string, info fs.FileInfo)) error {
	return filepath.Walk(dir, func(path string, info fs.FileInfo, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed under us: nothing to do with it
			}
			return err
		}
		rel, rerr := filepath.Rel(dir, path)
		if rerr != nil {
			return rerr
		}
		if info.IsDir() {
			if rel != "." && !isEntryDir(rel) {
				return filepath.SkipDir
			}
			return nil
		}
		f(rel, info)
		return nil
	})
}

func isEntryDir(rel string) bool {
	if len(rel) != 2 {
		return false
	}
	for _, c := range rel {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// testing brackets one mutant's go command.
func (g *cacheGuard) testing() func() {
	g.mu.RLock()
	return g.mu.RUnlock
}

// done counts a finished mutant and trims every g.every of them.
func (g *cacheGuard) done() error {
	if g.dir == "" {
		return nil
	}
	g.cmu.Lock()
	g.count++
	due := g.count >= g.every
	if due {
		g.count = 0
	}
	g.cmu.Unlock()
	if !due {
		return nil
	}
	return g.trim()
}

// trim removes every cache file made since the run began.
func (g *cacheGuard) trim() error {
	if g.dir == "" {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var firstErr error
	err := walkCache(g.dir, func(rel string, info fs.FileInfo) {
		if _, ok := g.before[rel]; ok {
			return
		}
		if err := os.Remove(filepath.Join(g.dir, rel)); err != nil && !os.IsNotExist(err) && firstErr == nil {
			firstErr = err
			return
		}
		g.freed += info.Size()
	})
	if err != nil {
		return fmt.Errorf("trimming the build cache: %w", err)
	}
	if firstErr != nil {
		return fmt.Errorf("trimming the build cache: %w", firstErr)
	}
	return nil
}

// freeBytes is the space left to an unprivileged writer on dir's
// filesystem (0 when unknown).
func freeBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0
	}
	return st.Bavail * uint64(st.Bsize)
}
