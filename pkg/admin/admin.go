// Package admin is Gatehouse's HTTP admin API: health, readiness, Prometheus
// metrics, and the state of every connected proxy and of the policy.
package admin

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config wires the admin API to the parts it reports on.
type Config struct {
	Gatherer prometheus.Gatherer
	// Ready reports whether the first complete build was published.
	Ready func() bool
	// Proxies returns a JSON-encodable list of connected proxies.
	Proxies func() any
	// Status returns a JSON-encodable control-plane status (policy, builds).
	Status func() any
	// Usage serves /api/v1/usage (pkg/usage); nil when this process does
	// not run the access-log service.
	Usage http.Handler
}

// Handler returns the admin HTTP handler.
func Handler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !cfg.Ready() {
			http.Error(w, "not ready: no complete configuration built yet", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/proxies", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, cfg.Proxies())
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, cfg.Status())
	})
	mux.HandleFunc("GET /api/v1/usage", func(w http.ResponseWriter, r *http.Request) {
		if cfg.Usage == nil {
			http.Error(w, "usage analytics do not run in this process: add usage to its --components", http.StatusNotFound)
			return
		}
		cfg.Usage.ServeHTTP(w, r)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
