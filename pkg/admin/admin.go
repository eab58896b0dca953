// Package admin is Gatehouse's HTTP admin API: health, readiness, Prometheus
// metrics, the state of every connected proxy, and under /api/v1 the policy
// objects themselves (apply, get, delete, status, history, rollback, config
// dump). docs/openapi.yaml documents every route; a test holds the two to
// each other. One file per resource.
package admin

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/explain"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Config wires the admin API to the parts it reports on.
type Config struct {
	Gatherer prometheus.Gatherer
	// Ready reports whether the first complete build was published.
	Ready func() bool
	// Proxies returns every connected proxy.
	Proxies func() []server.ProxyStatus
	// Status returns a JSON-encodable control-plane status (policy, builds).
	Status func() any
	// Usage serves /api/v1/usage (pkg/usage); nil when this process does
	// not run the access-log service.
	Usage http.Handler

	// Store holds the policy objects; nil leaves the object routes out
	// (they answer 404).
	Store store.Store
	// Policy says how validation reads the files policies name.
	Policy policy.Options
	// Build returns the controller's status: which objects it rejected,
	// whether the newest policy is served.
	Build func() controller.Status
	// Served returns the revision of the store the controller last read
	// (nil: not known); object status reports objects of a newer revision
	// as not programmed yet.
	Served func() string
	// Snapshot returns what a group of clients is served; nil on a replica
	// that serves no xDS.
	Snapshot func(translate.GroupKey) (*cache.Snapshot, bool)
	// Bridge, if set, returns the bridge snapshot a group's
	// state-of-the-world Envoys are served while a removal is held
	// (ok false when none is); config dumps show it beside Snapshot's.
	Bridge func(translate.GroupKey) (*cache.Snapshot, bool)
	// EnvoyDiff, if set, computes the change of the Envoy resources per
	// Gateway between two trees (pkg/explain); it fills
	// ApplyResult.Envoy of dry runs.
	EnvoyDiff func(before, after *store.Tree) (json.RawMessage, error)
	// Explain explains a request against what the proxies are served
	// (pkg/explain over the controller's last published build); nil on a
	// replica that serves no xDS.
	Explain func(explain.Request) (*explain.Result, error)
	// MaxBody caps request bodies (default api.MaxBodyBytes).
	MaxBody int64
}

// Handler returns the admin HTTP handler.
func Handler(cfg Config) http.Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = api.MaxBodyBytes
	}
	mux := http.NewServeMux()
	for _, r := range routes(&cfg) {
		mux.HandleFunc(r.pattern, r.handler)
	}
	return mux
}

type route struct {
	pattern string // "METHOD /path", as http.ServeMux takes it
	handler http.HandlerFunc
}

// routes lists everything the API serves; the OpenAPI test reads it.
func routes(cfg *Config) []route {
	rs := []route{
		{"GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) }},
		{"GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			if !cfg.Ready() {
				http.Error(w, "not ready: no complete configuration built yet", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("ready\n"))
		}},
		{"GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}).ServeHTTP},
		{"GET /api/v1/proxies", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, cfg.Proxies()) }},
		{"GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, cfg.Status()) }},
		{"GET /api/v1/config-dump", cfg.configDump},
		{"POST /api/v1/explain", cfg.explain},
		{"GET /api/v1/usage", func(w http.ResponseWriter, r *http.Request) {
			if cfg.Usage == nil {
				http.Error(w, "usage analytics do not run in this process: add usage to its --components", http.StatusNotFound)
				return
			}
			cfg.Usage.ServeHTTP(w, r)
		}},
	}
	if cfg.Store != nil {
		rs = append(rs,
			route{"POST /api/v1/apply", cfg.apply},
			route{"GET /api/v1/objects", cfg.listObjects},
			route{"GET /api/v1/objects/{kind}/{name}", cfg.getObject},
			route{"DELETE /api/v1/objects/{kind}/{name}", cfg.deleteObject},
			route{"GET /api/v1/object-status", cfg.objectStatus},
			route{"GET /api/v1/history", cfg.history},
			route{"POST /api/v1/rollback", cfg.rollback},
		)
	}
	return rs
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// httpError is an error with the status code it answers with.
type httpError struct {
	code     int
	msg      string
	rejected []policy.Rejected
}

func (e *httpError) Error() string { return e.msg }

func fail(code int, msg string) *httpError { return &httpError{code: code, msg: msg} }

// writeError answers err: an *httpError with its code, a store error with
// the code that fits it, anything else with 500.
func writeError(w http.ResponseWriter, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, store.ErrConflict):
		he = fail(http.StatusConflict, err.Error()+": read the objects again (gatehouse get), re-apply, or drop the base revision")
	case errors.Is(err, store.ErrUnknownRevision):
		he = fail(http.StatusNotFound, err.Error()+": see gatehouse history for the revisions there are")
	case errors.Is(err, store.ErrNotFound):
		he = fail(http.StatusNotFound, err.Error()+": see gatehouse get for the objects there are")
	case errors.Is(err, store.ErrUnavailable):
		he = fail(http.StatusServiceUnavailable, err.Error()+": nothing was changed; proxies keep their configuration; retry when the store is back")
	default:
		he = fail(http.StatusInternalServerError, err.Error())
	}
	writeJSON(w, he.code, api.Error{Error: he.msg, Rejected: he.rejected})
}
