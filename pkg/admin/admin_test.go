package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/xds/server"
)

func TestAdminEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	var ready atomic.Bool
	srv := httptest.NewServer(Handler(Config{
		Gatherer: reg,
		Ready:    ready.Load,
		Proxies:  func() []server.ProxyStatus { return []server.ProxyStatus{{NodeID: "n1"}} },
		Status:   func() any { return map[string]bool{"ready": ready.Load()} },
	}))
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "not ready") {
		t.Fatalf("readyz before ready = %d %q", code, body)
	}
	ready.Store(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz after ready = %d", code)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "gatehouse_test_total 3") {
		t.Fatalf("metrics = %d %q", code, body)
	}
	code, body := get("/api/v1/proxies")
	var proxies []map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &proxies) != nil || proxies[0]["node_id"] != "n1" {
		t.Fatalf("proxies = %d %q", code, body)
	}
	if code, body := get("/api/v1/status"); code != 200 || !strings.Contains(body, `"ready": true`) {
		t.Fatalf("status = %d %q", code, body)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Fatalf("unknown path = %d", code)
	}
}
