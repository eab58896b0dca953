package policy

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// Tests run as root here, so chmod 000 does not make anything unreadable.
// Unreadable policy input is made instead with what root cannot read
// either: a dangling symlink, a FIFO (opening one blocks until a writer
// comes), and an injected fs.FS whose directory listing or file read
// fails or panics.

const protectedRoute = `kind: Route
name: admin
spec:
  gateways: [gw]
  match: {path: {prefix: /admin}}
  backends: [{service: a}]
`

// loadBounded runs load with a bound: a FIFO opened for reading would
// block it for good.
func loadBounded(t *testing.T, load func() *Snapshot) *Snapshot {
	t.Helper()
	done := make(chan *Snapshot, 1)
	go func() { done <- load() }()
	select {
	case s := <-done:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("load did not return within 5s (blocked reading a policy file?)")
	}
	return nil
}

func errorsOf(s *Snapshot) []string {
	var out []string
	for _, r := range s.Rejected {
		out = append(out, r.Errors...)
	}
	slices.Sort(out)
	return out
}

// A directory entry named *.yaml that is a FIFO, or a symlink to nothing,
// is reported by name and skipped; a Route it held keeps its last good
// version (it was not deleted, it cannot be read); a symlink to a regular
// file (as mounted ConfigMaps are) loads.
func TestLoadDirFIFOAndDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("base.yaml", baseYAML)
	write("admin.yaml", protectedRoute)
	write("gone.yaml", "kind: Service\nname: c\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9003}]\n")
	write(".data/linked.yaml", "kind: Service\nname: d\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9004}]\n")
	if err := os.Symlink(".data/linked.yaml", filepath.Join(dir, "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	prev := loadBounded(t, func() *Snapshot { return LoadDir(dir, nil) })
	if len(prev.Rejected) != 0 || prev.Routes["admin"] == nil || prev.Services["c"] == nil || prev.Services["d"] == nil {
		t.Fatalf("first load: rejected %v", errorsOf(prev))
	}

	// admin.yaml becomes a FIFO, gone.yaml a dangling symlink.
	for _, f := range []string{"admin.yaml", "gone.yaml"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "admin.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere.yaml", filepath.Join(dir, "gone.yaml")); err != nil {
		t.Fatal(err)
	}
	s := loadBounded(t, func() *Snapshot { return LoadDir(dir, prev) })
	want := []string{
		"admin.yaml:0: admin.yaml: cannot read: a named pipe (FIFO), not a regular file",
		"admin.yaml:1: Route/admin: not reloaded: admin.yaml cannot be read; serving the previous version",
		"gone.yaml:0: gone.yaml: cannot read: stat gone.yaml: no such file or directory",
		"gone.yaml:1: Service/c: not reloaded: gone.yaml cannot be read; serving the previous version",
	}
	if got := errorsOf(s); !slices.Equal(got, want) {
		t.Fatalf("errors:\n got %q\nwant %q", got, want)
	}
	if s.Routes["admin"] != prev.Routes["admin"] || s.Services["c"] != prev.Services["c"] || s.Services["d"] == nil {
		t.Fatalf("served: routes %v services %v", keysOf(s.Routes), keysOf(s.Services))
	}
}

// failingFS is fsys with a directory whose listing fails, a file whose
// read fails and a file whose read panics, on demand.
type failingFS struct {
	fstest.MapFS
	badDir, badFile, panicFile string
}

func (f failingFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == f.badDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrPermission}
	}
	return f.MapFS.ReadDir(name)
}

func (f failingFS) Open(name string) (fs.File, error) {
	switch name {
	case f.badFile:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EIO}
	case f.panicFile:
		panic("injected parser failure")
	}
	return f.MapFS.Open(name)
}

func (f failingFS) ReadFile(name string) ([]byte, error) {
	file, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	file.Close()
	return f.MapFS.ReadFile(name)
}

// A directory that cannot be listed, a file that cannot be read and a file
// whose processing panics (standing in for a panic in the YAML parser or
// the decoder: no input is known to make them panic) each become an error
// naming the path; the previous objects they held keep serving; the rest
// loads.
func TestLoadUnreadableDirectoryFileAndPanic(t *testing.T) {
	fsys := testFS(t, map[string]string{
		"locked/admin.yaml": protectedRoute,
		"io.yaml":           "kind: Service\nname: c\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9003}]\n",
		"boom.yaml":         "kind: Service\nname: d\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9004}]\n",
	})
	prev := Load(fsys, nil)
	if len(prev.Rejected) != 0 || prev.Routes["admin"] == nil {
		t.Fatalf("first load: %v", errorsOf(prev))
	}
	s := Load(failingFS{MapFS: fsys, badDir: "locked", badFile: "io.yaml", panicFile: "boom.yaml"}, prev)
	want := []string{
		"boom.yaml:0: boom.yaml: cannot parse: internal error: injected parser failure",
		"boom.yaml:1: Service/d: not reloaded: boom.yaml could not be parsed; serving the previous version",
		"io.yaml:0: io.yaml: cannot read: open io.yaml: input/output error",
		"io.yaml:1: Service/c: not reloaded: io.yaml cannot be read; serving the previous version",
		"locked/admin.yaml:1: Route/admin: not reloaded: locked/admin.yaml (under locked, which cannot be read); serving the previous version",
		"locked:0: locked: cannot read: readdir locked: permission denied",
	}
	if got := errorsOf(s); !slices.Equal(got, want) {
		t.Fatalf("errors:\n got %q\nwant %q", got, want)
	}
	if s.Routes["admin"] != prev.Routes["admin"] || s.Services["c"] == nil || s.Services["d"] == nil || s.Gateways["gw"] == nil {
		t.Fatalf("served: routes %v services %v", keysOf(s.Routes), keysOf(s.Services))
	}

	// On a fresh start there is nothing to keep: the errors alone.
	fresh := Load(failingFS{MapFS: fsys, badDir: "locked", badFile: "io.yaml", panicFile: "boom.yaml"}, nil)
	if fresh.Routes["admin"] != nil || len(fresh.Rejected) != 3 || fresh.Gateways["gw"] == nil {
		t.Fatalf("fresh load: routes %v, errors %v", keysOf(fresh.Routes), errorsOf(fresh))
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
