package dir

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWatchSeesEditsNewDirsAndRenames(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan struct{}, 100)
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- WatchReady(ctx, root, 0, nil, func() { events <- struct{}{} }, readyFunc(t, ready)) }()
	waitReady(t, ready)

	wait := func(what string) {
		t.Helper()
		select {
		case <-events:
		case <-time.After(5 * time.Second):
			t.Fatalf("no notification after %s", what)
		}
		// Drain the burst that one change makes (Create, Write...), so
		// that the next step waits for its own. Too short a drain could
		// only let a late event pass for the next step's, never fail it.
		for {
			select {
			case <-events:
			case <-time.After(50 * time.Millisecond):
				return
			}
		}
	}

	must(t, os.WriteFile(filepath.Join(root, "a.yaml"), []byte("x"), 0o644))
	wait("create file")

	must(t, os.Mkdir(filepath.Join(root, "sub"), 0o755))
	wait("create dir")
	must(t, os.WriteFile(filepath.Join(root, "sub", "b.yaml"), []byte("y"), 0o644))
	wait("file in new dir")

	// Editors write a temp file and rename it over the original.
	tmp := filepath.Join(root, ".a.yaml.swp")
	must(t, os.WriteFile(tmp, []byte("z"), 0o644))
	wait("temp file")
	must(t, os.Rename(tmp, filepath.Join(root, "a.yaml")))
	wait("rename over")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestWatchResyncTicks(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := make(chan struct{}, 10)
	go Watch(ctx, root, 20*time.Millisecond, nil, func() { n <- struct{}{} })
	for i := 0; i < 3; i++ {
		select {
		case <-n:
		case <-ctx.Done():
			t.Fatal("resync did not tick")
		}
	}
}

func TestWatchMissingDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	err := WatchReady(context.Background(), missing, 0, nil, func() {}, func() { t.Error("ready for a directory that is not watched") })
	if err == nil || err.Error() != "watching "+missing+": lstat "+missing+": no such file or directory" {
		t.Fatalf("err = %v, want the missing directory named", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Directories sent on extra (of files named from outside the policy
// directory) are watched too.
func TestWatchExtraDirs(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	extra := make(chan []string) // unbuffered: a send returns once the watcher took the list
	events := make(chan struct{}, 100)
	ready := make(chan struct{})
	go WatchReady(ctx, root, 0, extra, func() { events <- struct{}{} }, readyFunc(t, ready))
	waitReady(t, ready)
	extra <- []string{outside, filepath.Join(outside, "missing")}
	// The watcher adds the directory right after taking the list; a second
	// send returns only once that is done.
	extra <- nil
	select {
	case <-events:
		t.Fatal("a notification before any change")
	default:
	}
	must(t, os.WriteFile(filepath.Join(outside, "users.rego"), []byte("package x"), 0o644))
	select {
	case <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification for a file in an extra directory")
	}
}

// readyFunc returns a ready callback that closes ch, failing the test if
// it is called twice.
func readyFunc(t *testing.T, ch chan struct{}) func() {
	return func() {
		select {
		case <-ch:
			t.Error("ready called twice")
		default:
			close(ch)
		}
	}
}

func waitReady(t *testing.T, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("watcher not ready within 5s")
	}
}
