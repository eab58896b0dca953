package usage

import (
	"encoding/json"
	"net/http"
	"time"
)

// Handler serves a usage Report as JSON: GET ?since=15m&consumer=NAME
// (both optional; since is a Go duration no longer than the window).
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var since time.Duration
		if v := q.Get("since"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				http.Error(w, "since: want a duration such as 15m or 1h: "+err.Error(), http.StatusBadRequest)
				return
			}
			since = d
		}
		rep, err := s.Query(since, q.Get("consumer"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	})
}
