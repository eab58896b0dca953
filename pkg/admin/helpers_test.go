package admin

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/dir"
	"github.com/gatehouse-dev/gatehouse/pkg/store/memory"
)

// storeKinds are the stores the API tests run against (forEachStore).
var storeKinds = []string{"memory", "dir"}

// forEachStore runs test once per store kind.
func forEachStore(t *testing.T, test func(t *testing.T, kind string)) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) { test(t, kind) })
	}
}

// newTestStore is the one place tests make a Store holding files: the
// in-memory store or the directory store (a temporary directory).
func newTestStore(t *testing.T, kind string, files map[string]string) store.Store {
	t.Helper()
	if kind == "dir" {
		root := t.TempDir()
		for p, s := range files {
			if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		st, err := dir.New(root, dir.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	m := map[string][]byte{}
	for p, s := range files {
		m[p] = []byte(s)
	}
	return memory.New(m)
}

// Policy used across the tests: a Gateway, a Service and a Route using it.
const (
	gatewayYAML = "kind: Gateway\nname: public\nspec:\n  listeners: [{name: http, port: 8080, protocol: HTTP}]\n"
	serviceYAML = "kind: Service\nname: users\nlabels: {team: users}\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9001}]\n"
	routeYAML   = "kind: Route\nname: user-info\nspec:\n  gateways: [public]\n  hosts: [api.example.com]\n  match: {path: {prefix: /user}}\n  backends: [{service: users}]\n"
)

func basePolicy() map[string]string {
	return map[string]string{"gateway.yaml": gatewayYAML, "services.yaml": serviceYAML, "routes.yaml": routeYAML}
}

type testAPI struct {
	t   *testing.T
	srv *httptest.Server
	st  store.Store
}

func newTestAPI(t *testing.T, files map[string]string, mod func(*Config)) *testAPI {
	t.Helper()
	return newTestAPIOn(t, "memory", files, mod)
}

func newTestAPIOn(t *testing.T, kind string, files map[string]string, mod func(*Config)) *testAPI {
	t.Helper()
	st := newTestStore(t, kind, files)
	cfg := Config{Gatherer: prometheus.NewRegistry(), Ready: func() bool { return true }, Store: st}
	if mod != nil {
		mod(&cfg)
	}
	srv := httptest.NewServer(Handler(cfg))
	t.Cleanup(srv.Close)
	return &testAPI{t: t, srv: srv, st: st}
}

// do sends a request and decodes a JSON answer into out (an api.Error for
// codes >= 400 when out is nil).
func (a *testAPI) do(method, path, body string, out any) (int, api.Error) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, bytes.NewBufferString(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set(api.HeaderAuthor, "tester")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e api.Error
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &e); err != nil {
			a.t.Fatalf("%s %s: %d with a body that is not an api.Error: %q", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode, e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v in %q", method, path, err, b)
		}
	}
	return resp.StatusCode, e
}

func (a *testAPI) files() map[string][]byte {
	a.t.Helper()
	tr, err := a.st.Read(a.t.Context())
	if err != nil {
		a.t.Fatal(err)
	}
	return tr.Files
}
