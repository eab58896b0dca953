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

// Carrying over what cannot be read must not bring back what was
// deleted: a directory that cannot be listed keeps the objects under it
// (and only those), and a Consumer deleted from a readable file in the
// same load is gone, with its API key, whatever directory failed.
func TestUnreadableDirectoryKeepsOnlyItsOwnObjects(t *testing.T) {
	consumer := "kind: Consumer\nname: revoked\nspec:\n  apiKeys: [{id: k, sha256: " + hashA + "}]\n"
	for _, badDir := range []string{"locked", "locked/deeper"} {
		t.Run(badDir, func(t *testing.T) {
			fsys := testFS(t, map[string]string{
				badDir + "/admin.yaml": protectedRoute,
				"consumers/c.yaml":     consumer,
				"other/q.yaml":         routeQ,
			})
			prev := Load(fsys, nil)
			if len(prev.Rejected) != 0 || prev.Routes["admin"] == nil || prev.Consumers["revoked"] == nil {
				t.Fatalf("first load: %v", errorsOf(prev))
			}
			delete(fsys, "consumers/c.yaml")
			delete(fsys, "other/q.yaml")
			// Only a walk error: no file of this load is unreadable itself.
			s := Load(failingFS{MapFS: fsys, badDir: badDir}, prev)
			want := []string{
				badDir + "/admin.yaml:1: Route/admin: not reloaded: " + badDir + "/admin.yaml (under " + badDir + ", which cannot be read); serving the previous version",
				badDir + ":0: " + badDir + ": cannot read: readdir " + badDir + ": permission denied",
			}
			if got := errorsOf(s); !slices.Equal(got, want) {
				t.Fatalf("errors:\n got %q\nwant %q", got, want)
			}
			if s.Routes["admin"] != prev.Routes["admin"] {
				t.Errorf("Route admin under the unreadable directory not kept: routes %v", keysOf(s.Routes))
			}
			if s.Consumers["revoked"] != nil || s.Routes["q"] != nil {
				t.Errorf("deleted objects served again: consumers %v routes %v", keysOf(s.Consumers), keysOf(s.Routes))
			}
		})
	}
}

// An object moved out of a file that now has a syntax error is served as
// this load defines it elsewhere, not at the version the broken file held:
// here the new version adds authentication, which the old one lacked.
func TestMovedObjectNotOverriddenByItsBrokenOldFile(t *testing.T) {
	files := map[string]string{"old.yaml": routeR, "p.yaml": policiesYAML}
	prev := Load(testFS(t, files), nil)
	if len(prev.Rejected) != 0 || prev.Routes["r"] == nil {
		t.Fatalf("setup: %q", prev.Errors())
	}
	files["old.yaml"] = routeR + "  oops: [\n"
	files["new.yaml"] = routeR + "  authentication: [keys]\n"
	next := Load(testFS(t, files), prev)
	r := next.Routes["r"]
	if r == nil || r.Spec.Authentication == nil || len(*r.Spec.Authentication) != 1 || metaOf(r).File != "new.yaml" {
		t.Fatalf("Route r = %+v, want the new.yaml version with authentication; errors %q", r, next.Errors())
	}
	if e := rejectedEntry(next, "Route/r"); e != nil {
		t.Errorf("Route/r reported as carried over: %+v", e)
	}
}

// rootlessFS is a policy directory that is gone (an unmounted volume):
// even its root cannot be read.
type rootlessFS struct{}

func (rootlessFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// A policy directory whose root cannot be read is an error naming it, not
// a panic, and the previous objects keep serving (nothing was deleted);
// on a fresh start nothing is served.
func TestLoadUnreadableRoot(t *testing.T) {
	prev := Load(testFS(t, map[string]string{"admin.yaml": protectedRoute}), nil)
	if len(prev.Rejected) != 0 || prev.Routes["admin"] == nil {
		t.Fatalf("first load: %v", errorsOf(prev))
	}
	s := loadBounded(t, func() *Snapshot { return Load(rootlessFS{}, prev) })
	if s.Routes["admin"] != prev.Routes["admin"] || s.Gateways["gw"] == nil {
		t.Errorf("previous objects not kept: routes %v, errors %q", keysOf(s.Routes), errorsOf(s))
	}
	if _, ok := findErr(s, ".:0: .: ", "cannot read: open .: file does not exist"); !ok {
		t.Errorf("no root error: %q", errorsOf(s))
	}
	fresh := loadBounded(t, func() *Snapshot { return Load(rootlessFS{}, nil) })
	if len(fresh.Routes)+len(fresh.Gateways) != 0 || len(fresh.Rejected) != 1 {
		t.Errorf("fresh load: routes %v, errors %q", keysOf(fresh.Routes), errorsOf(fresh))
	}
}

// An entry that is not a regular file is named by its kind.
func TestFileKind(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		fs.ModeDir:                        "a directory",
		fs.ModeNamedPipe:                  "a named pipe (FIFO)",
		fs.ModeSocket:                     "a socket",
		fs.ModeDevice:                     "a device",
		fs.ModeDevice | fs.ModeCharDevice: "a device",
		fs.ModeIrregular:                  "of type ?---------",
	} {
		if got := fileKind(m); got != want {
			t.Errorf("%v: %q, want %q", m, got, want)
		}
	}
}
