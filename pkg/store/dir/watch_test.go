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
	go func() { done <- Watch(ctx, root, 0, nil, func() { events <- struct{}{} }) }()
	time.Sleep(100 * time.Millisecond) // let the watcher register

	wait := func(what string) {
		t.Helper()
		select {
		case <-events:
		case <-time.After(5 * time.Second):
			t.Fatalf("no notification after %s", what)
		}
		// drain the burst that one change makes
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
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "nope"), 0, nil, func() {})
	if err == nil {
		t.Fatal("want an error for a missing directory")
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
	extra := make(chan []string, 1)
	events := make(chan struct{}, 100)
	go Watch(ctx, root, 0, extra, func() { events <- struct{}{} })
	extra <- []string{outside, filepath.Join(outside, "missing")}
	time.Sleep(100 * time.Millisecond) // let the watcher add it
	must(t, os.WriteFile(filepath.Join(outside, "users.rego"), []byte("package x"), 0o644))
	select {
	case <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification for a file in an extra directory")
	}
}
