package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/dir"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// gatehouse serve --store dir://DIR serves what another process commits
// to the directory (as the CLI's apply does): a proxyless client follows
// each commit; of two commits on one revision one is refused as stale and
// nothing of it is served; an edit by hand gets its own history entry,
// recorded by the server when it reloads.
func TestServeFromDirStore(t *testing.T) {
	t.Parallel()
	a, b, c3 := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	root := t.TempDir()
	ctx := context.Background()
	st, err := dir.New(root, dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	route := "kind: Route\nname: r\nspec:\n  gateways: [public]\n  hosts: [store.test]\n  backends: [{service: app}]\n"
	first, err := st.Commit(ctx, "", []store.Change{
		{Path: "gateway.yaml", Content: []byte(gatewayYAML)},
		{Path: "routes/r.yaml", Content: []byte(route)},
		{Path: "services/app.yaml", Content: []byte(staticService("app", a))},
	}, store.Meta{Author: "e2e", Message: "app on a"})
	if err != nil {
		t.Fatal(err)
	}
	g := gatehouseproc.Start(t, gatehouseBin, "--store", "dir://"+root)
	g.WaitReady(20 * time.Second)
	c := xdsClient(t, g, "public", "store-client", "store.test")
	waitFor(t, 10*time.Second, c, "a")

	// Two writers on one revision: exactly one commit lands.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, be := range []*backend{b, c3} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.Commit(ctx, first.ID, []store.Change{{Path: "services/app.yaml", Content: []byte(staticService("app", be))}}, store.Meta{Author: "writer"})
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), store.ErrConflict) {
		t.Fatalf("two commits on one revision: errors %v, want exactly one ErrConflict", errs)
	}
	want := "b"
	if errs[0] != nil {
		want = "c"
	}
	start := time.Now()
	waitFor(t, 10*time.Second, c, want)
	for range 20 {
		if got := call(c); got != want {
			t.Fatalf("after the winning commit, a call went to %q, want %q", got, want)
		}
	}
	t.Logf("winning commit served to the proxyless client within %v", time.Since(start).Round(time.Millisecond))

	// A hand edit is served, and the server's reload records it.
	other := a
	if err := os.WriteFile(filepath.Join(root, "services", "app.yaml"), []byte(staticService("app", other)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, c, other.Name)
	var status struct {
		Store struct{ Revision string } `json:"store"`
	}
	tr, err := st.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); status.Store.Revision != tr.Revision; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("status revision %s, want %s", status.Store.Revision, tr.Revision)
		}
		_, body := g.Get("/api/v1/status")
		json.Unmarshal([]byte(body), &status)
	}
	hist, err := st.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[0].ID != tr.Revision || hist[0].Author != "(outside gatehouse)" || hist[1].Author != "writer" || hist[2].ID != first.ID {
		t.Fatalf("history %+v", hist)
	}
}
