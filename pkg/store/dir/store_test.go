package dir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/internal/tree"
	"github.com/gatehouse-dev/gatehouse/pkg/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, store.Store) {
		root := t.TempDir()
		return newStore(t, root, Options{}), newStore(t, root, Options{})
	})
}

func newStore(t *testing.T, root string, o Options) *Store {
	t.Helper()
	s, err := New(root, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bg() context.Context { return context.Background() }

// Read skips hidden files and directories (the store's own history among
// them), as the policy loader does, and follows links to files.
func TestReadSkipsHiddenFollowsLinks(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, ".git"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, ".git", "config"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, ".a.yaml.swp"), []byte("x"), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, "..data"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "..data", "gw.yaml"), []byte("gw"), 0o644))
	must(t, os.Symlink("..data/gw.yaml", filepath.Join(root, "gw.yaml")))
	s := newStore(t, root, Options{})
	tr, err := s.Read(bg())
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Files) != 1 || string(tr.Files["gw.yaml"]) != "gw" {
		t.Fatalf("files = %v, want only gw.yaml through its link", tr.Files)
	}
}

// Limits and non-regular files are errors naming the file.
func TestReadBounds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(root string)
		opts  Options
		want  string
	}{
		{"file too big", func(root string) {
			must(t, os.WriteFile(filepath.Join(root, "big.json"), make([]byte, 101), 0o644))
		}, Options{Limits: store.Limits{MaxFileSize: 100}}, "big.json: 101 bytes, more than the 100"},
		{"too many files", func(root string) {
			for i := range 4 {
				must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("%d.yaml", i)), nil, 0o644))
			}
		}, Options{Limits: store.Limits{MaxFiles: 3}}, "more than 3 files in the policy tree (at 3.yaml)"},
		{"too much in all", func(root string) {
			for i := range 3 {
				must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("%d.yaml", i)), make([]byte, 40), 0o644))
			}
		}, Options{Limits: store.Limits{MaxTotalSize: 100}}, "holds more than 100 bytes (at 2.yaml)"},
		{"fifo", func(root string) {
			must(t, exec.Command("mkfifo", filepath.Join(root, "pipe.yaml")).Run())
		}, Options{}, "pipe.yaml is not a regular file"},
		{"link to a directory", func(root string) {
			must(t, os.Symlink(os.TempDir(), filepath.Join(root, "tmp")))
		}, Options{}, "tmp is not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.setup(root)
			_, err := newStore(t, root, tc.opts).Read(bg())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// An edit by hand is a new revision: a commit based on the revision read
// before it is refused, and the edit gets a history entry of its own.
func TestHandEdits(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, root, Options{})
	r1, err := s.Commit(bg(), "", []store.Change{{Path: "a.yaml", Content: []byte("1")}}, store.Meta{Author: "alice", Message: "one"})
	must(t, err)
	must(t, os.WriteFile(filepath.Join(root, "a.yaml"), []byte("edited"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "new.yaml"), []byte("new"), 0o644))
	tr, err := s.Read(bg())
	must(t, err)
	if tr.Revision == r1.ID {
		t.Fatal("a hand edit did not change the revision")
	}
	if _, err := s.Commit(bg(), r1.ID, []store.Change{{Path: "b.yaml", Content: []byte("2")}}, store.Meta{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("commit based on the revision before a hand edit: err = %v, want ErrConflict", err)
	}
	hist, err := s.History(bg(), 0)
	must(t, err)
	if len(hist) != 2 || hist[0].ID != tr.Revision || hist[0].Author != "(outside gatehouse)" ||
		strings.Join(hist[0].Changed, ",") != "a.yaml,new.yaml" {
		t.Fatalf("history = %+v, want the hand edit on top with what it changed", hist)
	}
	back, err := s.ReadAt(bg(), tr.Revision)
	must(t, err)
	if string(back.Files["a.yaml"]) != "edited" {
		t.Fatalf("ReadAt(hand edit) = %q", back.Files)
	}
}

// A directory that already holds policy starts its history with it.
func TestHistoryStartsWithExistingFiles(t *testing.T) {
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "a.yaml"), []byte("1"), 0o644))
	s := newStore(t, root, Options{})
	hist, err := s.History(bg(), 0)
	must(t, err)
	if len(hist) != 1 || hist[0].Message != "found when the history started" {
		t.Fatalf("history = %+v", hist)
	}
}

// The history keeps HistoryLimit revisions, and the contents only the
// dropped ones named are deleted with them.
func TestHistoryBounded(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, root, Options{HistoryLimit: 3})
	var revs []string
	for i := range 6 {
		r, err := s.Commit(bg(), "", []store.Change{{Path: "a.yaml", Content: []byte(fmt.Sprint(i))}}, store.Meta{})
		must(t, err)
		revs = append(revs, r.ID)
	}
	hist, err := s.History(bg(), 0)
	must(t, err)
	if len(hist) != 3 || hist[0].ID != revs[5] || hist[2].ID != revs[3] {
		t.Fatalf("history = %+v, want the last 3", hist)
	}
	if _, err := s.ReadAt(bg(), revs[2]); !errors.Is(err, store.ErrUnknownRevision) {
		t.Fatalf("ReadAt(dropped) err = %v", err)
	}
	blobs, err := os.ReadDir(filepath.Join(root, MetaDir, "blobs"))
	must(t, err)
	if len(blobs) != 3 {
		t.Fatalf("%d blobs kept, want the 3 the kept revisions name", len(blobs))
	}
}

// A reader polling a file while commits rewrite it always sees a whole
// version, never a part (rename is atomic; a plain write would not be).
func TestCommitAtomicForReaders(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, root, Options{})
	big := func(b byte) []byte { return bytes.Repeat([]byte{b}, 1<<20) }
	_, err := s.Commit(bg(), "", []store.Change{{Path: "big.json", Content: big('a')}}, store.Meta{})
	must(t, err)
	var stop atomic.Bool
	bad := make(chan string, 1)
	reads := make(chan int, 1)
	go func() {
		n := 0
		defer func() { reads <- n }()
		for !stop.Load() {
			data, err := os.ReadFile(filepath.Join(root, "big.json"))
			n++
			if err != nil {
				bad <- err.Error()
				return
			}
			if len(data) != 1<<20 || bytes.Count(data, data[:1]) != len(data) {
				bad <- fmt.Sprintf("read %d bytes, not one whole version", len(data))
				return
			}
		}
	}()
	for i := range 20 {
		_, err := s.Commit(bg(), "", []store.Change{{Path: "big.json", Content: big(byte('b' + i%2))}}, store.Meta{})
		must(t, err)
	}
	stop.Store(true)
	n := <-reads
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}
	t.Logf("%d whole reads during 20 commits of 1 MiB", n)
}

// Commits of two processes on one directory serialize on the lock file:
// each process commits on the revision it read, so without the lock both
// would pass the base check and one update would be lost.
func TestTwoProcessesSerialize(t *testing.T) {
	if os.Getenv("GATEHOUSE_DIR_CHILD") != "" {
		childCommits(t)
		return
	}
	root := t.TempDir()
	s := newStore(t, root, Options{})
	_, err := s.Commit(bg(), "", []store.Change{{Path: "count", Content: []byte("0")}}, store.Meta{})
	must(t, err)
	const per = 15
	var cmds []*exec.Cmd
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesSerialize$", "-test.count=1")
		cmd.Env = append(os.Environ(), "GATEHOUSE_DIR_CHILD="+root, fmt.Sprintf("GATEHOUSE_DIR_N=%d", per), fmt.Sprintf("GATEHOUSE_DIR_ID=%d", i))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		must(t, cmd.Start())
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("child %d:\n%s", i, out.String())
			}
		})
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	tr, err := s.Read(bg())
	must(t, err)
	if got := string(tr.Files["count"]); got != fmt.Sprint(2*per) {
		t.Fatalf("count = %s after 2x%d increments, want %d: commits did not serialize", got, per, 2*per)
	}
	hist, err := s.History(bg(), 0)
	must(t, err)
	if len(hist) != 2*per+1 {
		t.Fatalf("%d history entries, want %d", len(hist), 2*per+1)
	}
}

// childCommits increments the counter file, retrying on conflicts.
func childCommits(t *testing.T) {
	s := newStore(t, os.Getenv("GATEHOUSE_DIR_CHILD"), Options{})
	var n int
	fmt.Sscan(os.Getenv("GATEHOUSE_DIR_N"), &n)
	deadline := time.Now().Add(60 * time.Second)
	for done := 0; done < n; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d increments within 60s", done, n)
		}
		tr, err := s.Read(bg())
		must(t, err)
		var v int
		fmt.Sscan(string(tr.Files["count"]), &v)
		_, err = s.Commit(bg(), tr.Revision, []store.Change{{Path: "count", Content: []byte(fmt.Sprint(v + 1))}},
			store.Meta{Author: "child " + os.Getenv("GATEHOUSE_DIR_ID")})
		switch {
		case errors.Is(err, store.ErrConflict):
		case err != nil:
			t.Fatal(err)
		default:
			done++
		}
	}
}

// A read-only directory (a mounted ConfigMap) can be read; a commit says
// why it cannot be made.
func TestReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: permissions do not stop root, checking the read only")
	}
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "a.yaml"), []byte("1"), 0o644))
	must(t, os.Chmod(root, 0o555))
	t.Cleanup(func() { os.Chmod(root, 0o755) })
	s := newStore(t, root, Options{})
	tr, err := s.Read(bg())
	must(t, err)
	if string(tr.Files["a.yaml"]) != "1" {
		t.Fatalf("files = %v", tr.Files)
	}
	if os.Geteuid() == 0 {
		return
	}
	_, err = s.Commit(bg(), "", []store.Change{{Path: "b.yaml", Content: []byte("2")}}, store.Meta{})
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("commit to a read-only directory: err = %v", err)
	}
}

// A history entry edited to name a file outside the history is refused,
// not followed.
func TestReadAtRefusesTamperedHistory(t *testing.T) {
	root := t.TempDir()
	s := newStore(t, root, Options{})
	r, err := s.Commit(bg(), "", []store.Change{{Path: "a.yaml", Content: []byte("1")}}, store.Meta{})
	must(t, err)
	secret := filepath.Join(t.TempDir(), "secret")
	must(t, os.WriteFile(secret, []byte("key"), 0o600))
	rel, err := filepath.Rel(filepath.Join(root, MetaDir, "blobs"), secret)
	must(t, err)
	names, err := s.recordNames()
	must(t, err)
	path := filepath.Join(root, MetaDir, "history", names[0])
	data, err := os.ReadFile(path)
	must(t, err)
	id := tree.BlobID([]byte("1"))
	must(t, os.WriteFile(path, bytes.Replace(data, []byte(id), []byte(rel), 1), 0o644))
	_, err = s.ReadAt(bg(), r.ID)
	if err == nil || !strings.Contains(err.Error(), "the history entry is damaged") {
		t.Fatalf("ReadAt of a tampered entry: err = %v", err)
	}
}
