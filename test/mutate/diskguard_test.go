package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCacheGuardRemovesOnlyTheRunsEntries: a trim removes the cache
// entries made since the guard was made, and nothing that was there
// before, nor the fuzz corpus or the trim stamp; done trims every Nth call.
func TestCacheGuardRemovesOnlyTheRunsEntries(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, n int) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(dir, rel))
		return err == nil
	}
	write("ab/old-a", 10)
	write("ab/old-d", 20)
	write("fuzz/pkg/FuzzX/seed", 5)
	write("trim.txt", 3)
	t.Setenv("GOCACHE", dir)
	var log bytes.Buffer
	g := newCacheGuard(&log, 2)
	if g.dir != dir {
		t.Fatalf("guard dir %q, want %q (log: %s)", g.dir, dir, log.String())
	}

	write("ab/new-a", 7)
	write("cd/new-d", 100)
	write("fuzz/pkg/FuzzX/found", 5)
	if err := g.done(); err != nil {
		t.Fatal(err)
	}
	if !exists("cd/new-d") {
		t.Fatal("the first of every 2 mutants trimmed the cache")
	}
	if err := g.done(); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"ab/new-a", "cd/new-d"} {
		if exists(gone) {
			t.Errorf("%s, made during the run, is still in the cache", gone)
		}
	}
	for _, kept := range []string{"ab/old-a", "ab/old-d", "fuzz/pkg/FuzzX/seed", "fuzz/pkg/FuzzX/found", "trim.txt"} {
		if !exists(kept) {
			t.Errorf("%s was removed", kept)
		}
	}
	if g.freed != 107 {
		t.Errorf("freed %d bytes, want 107", g.freed)
	}
}

// TestCacheGuardWithoutCache: with the cache off the guard does nothing
// and says so.
func TestCacheGuardWithoutCache(t *testing.T) {
	t.Setenv("GOCACHE", "off")
	var log bytes.Buffer
	g := newCacheGuard(&log, 1)
	if g.dir != "" || !bytes.Contains(log.Bytes(), []byte("not trimmed")) {
		t.Fatalf("dir %q, log %q", g.dir, log.String())
	}
	if err := g.done(); err != nil {
		t.Fatal(err)
	}
}
