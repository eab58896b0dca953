package peerauth

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A file renamed over another is a change even when its size and
// modification time are the same (coarse timestamps, a copy keeping them).
func TestStampSeesARenameWithTheSameSizeAndTime(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte("same size"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	before, err := statAll(a)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := statAll(a); !sameStamps(before, again) {
		t.Fatal("an unchanged file looks changed")
	}
	if err := os.Rename(b, a); err != nil {
		t.Fatal(err)
	}
	after, err := statAll(a)
	if err != nil {
		t.Fatal(err)
	}
	if sameStamps(before, after) {
		t.Fatal("a file renamed over with the same size and time looks unchanged")
	}
}
