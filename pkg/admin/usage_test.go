package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// /api/v1/usage is served by Config.Usage, and says how to turn it on
// where the process does not run the access-log service.
func TestUsageRoute(t *testing.T) {
	for _, c := range []struct {
		name  string
		usage http.Handler
		code  int
		body  string
	}{
		{"not running", nil, 404, "add usage to its --components"},
		{"running", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "since="+r.URL.Query().Get("since"))
		}), 200, "since=5m"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Handler(Config{Usage: c.usage}).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/usage?since=5m", nil))
			if w.Code != c.code || !strings.Contains(w.Body.String(), c.body) {
				t.Errorf("%d %q, want %d with %q", w.Code, w.Body, c.code, c.body)
			}
		})
	}
}
