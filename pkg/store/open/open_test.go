package open

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/consul"
)

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url, kind, err string
	}{
		{url: "dir://" + dir, kind: "dir"},
		{url: "consul://127.0.0.1:8500/gatehouse/prod", kind: "consul"},
		{url: "consul://127.0.0.1:8500/gatehouse/", kind: "consul"},
		{url: dir, err: "want dir://PATH or consul://ADDR/PREFIX"},
		{url: "dir://", err: "dir:// needs a path"},
		{url: "dir://" + filepath.Join(dir, "missing"), err: "no such file or directory"},
		{url: "consul:///gatehouse", err: "consul:// needs the agent's address"},
		{url: "consul://127.0.0.1:8500", err: "needs a KV prefix"},
		{url: "consul://127.0.0.1:8500/", err: "needs a KV prefix"},
		{url: "consul://127.0.0.1:8500/a/../b", err: "empty, . or .. elements"},
		{url: "consul://me:secret@127.0.0.1:8500/g", err: "put no credentials in the URL"},
		{url: "consul://127.0.0.1:8500/g?token=x", err: "takes no query"},
		{url: "etcd://127.0.0.1:2379/g", err: `unknown kind "etcd"`},
	} {
		o, err := Open(tc.url, Options{})
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.url, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: the error shows the password: %v", tc.url, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case o.Kind != tc.kind:
			t.Errorf("%s: kind %s, want %s", tc.url, o.Kind, tc.kind)
		}
	}
	o, err := Open("consul://127.0.0.1:8500/gatehouse/prod/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := o.Store.(*consul.Store); c.Prefix() != "gatehouse/prod" || c.Address() != "127.0.0.1:8500" {
		t.Errorf("consul store at %s %s", c.Address(), c.Prefix())
	}
}

// The loader serves the store's tree; files outside a dir store's root are
// read from the disk as before (../policies/x.rego); a failed read keeps
// the previous snapshot and shows in the health.
func TestLoader(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "conf")
	must(t, os.MkdirAll(root, 0o755))
	must(t, os.MkdirAll(filepath.Join(base, "policies"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "policies", "users.rego"), []byte("package users\n\ndefault allow := true\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "authz.yaml"), []byte(`kind: Authorization
name: users
spec:
  rego: ../policies/users.rego
  query: data.users.allow
`), 0o644))
	o, err := Open("dir://"+root, Options{})
	must(t, err)
	h := store.NewHealth(o.Name)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	load := o.Loader(context.Background(), h, log)
	snap := load(nil)
	if len(snap.Rejected) != 0 || len(snap.Authorizations) != 1 || snap.Authorizations["users"].Spec.RegoSource == "" {
		t.Fatalf("rejected %v, authorizations %d", snap.Rejected, len(snap.Authorizations))
	}
	if !h.Status().Up || h.Status().Revision == "" {
		t.Fatalf("health %+v", h.Status())
	}

	// A store with no root (Consul KV) holds everything its policies may
	// name: the same tree read through it does not reach the disk.
	noRoot := &Opened{Store: o.Store, Name: "consul://x/y", Kind: "consul"}
	kvSnap := noRoot.Loader(context.Background(), store.NewHealth(noRoot.Name), log)(nil)
	if len(kvSnap.Authorizations) != 0 || len(kvSnap.Rejected) != 1 || !strings.Contains(kvSnap.Rejected[0].Errors[0], "../policies/users.rego") {
		t.Fatalf("a policy in a store without a root read ../policies/users.rego from the disk: %+v", kvSnap.Rejected)
	}

	failing := &Opened{Store: failStore{}, Name: "consul://x/y", Kind: "consul"}
	load = failing.Loader(context.Background(), h, log)
	if got := load(snap); got != snap {
		t.Fatal("a failed read did not keep the previous snapshot")
	}
	if st := h.Status(); st.Up || !strings.Contains(st.LastError, "policy store unavailable") || st.Revision == "" {
		t.Fatalf("health after a failed read: %+v", st)
	}
}

type failStore struct{ store.Store }

func (failStore) Read(context.Context) (*store.Tree, error) {
	return nil, errors.Join(store.ErrUnavailable, errors.New("connection refused"))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
