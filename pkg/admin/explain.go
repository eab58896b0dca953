package admin

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/pkg/explain"
)

// explain answers POST /api/v1/explain: which route a request would take
// on what the proxies are served now, and what applies to it (pkg/explain
// reads the published Envoy resources, not the policy a second time).
func (cfg *Config) explain(w http.ResponseWriter, r *http.Request) {
	if cfg.Explain == nil {
		writeError(w, fail(http.StatusNotFound, "this gatehouse serves no xDS (see its --components): ask the replica that does"))
		return
	}
	body, err := cfg.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req explain.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, fail(http.StatusBadRequest, "the body must be a JSON explain request (gateway, host, path, method, headers, query, consumer, client_ip, client): "+err.Error()))
		return
	}
	res, err := cfg.Explain(req)
	if err != nil {
		writeError(w, fail(http.StatusBadRequest, err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, res)
}
