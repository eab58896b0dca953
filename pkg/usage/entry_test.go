package usage

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseEntry(t *testing.T) {
	for _, c := range []struct {
		name string
		e    entry
		want string
	}{
		{"routed and authenticated", entry{route: "orders", service: "orders", consumer: "alice", code: 201, ms: 12},
			"gw orders orders alice 2xx 12ms true 0 false"},
		{"no consumer (no ext_authz call)", entry{route: "health", code: 204}, "gw health   2xx 0s true 0 false"},
		{"client reset: no response", entry{route: "r"}, "gw r   none 0s true 0 false"},
		{"5xx", entry{route: "r", code: 503}, "gw r   5xx 0s true 0 false"},
		{"quota from the x-ratelimit headers", entry{route: "r", code: 200, headers: map[string]string{"x-ratelimit-limit": "100, 100;w=2592000", "x-ratelimit-remaining": "5"}},
			"gw r   2xx 0s true 0.95 true"},
		{"remaining above the limit is ignored", entry{route: "r", code: 200, headers: map[string]string{"x-ratelimit-limit": "10", "x-ratelimit-remaining": "11"}},
			"gw r   2xx 0s true 0 false"},
		{"unparsable headers are ignored", entry{route: "r", code: 200, headers: map[string]string{"x-ratelimit-limit": "ten", "x-ratelimit-remaining": "1"}},
			"gw r   2xx 0s true 0 false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, bad := parseEntry("gw", c.e.proto())
			if bad != nil {
				t.Fatal(bad)
			}
			got := fmt.Sprint(r.gateway, " ", r.route, " ", r.service, " ", r.consumer, " ", r.class, " ", r.duration, " ", r.hasDuration, " ", r.quotaUsed, " ", r.hasQuota)
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
	// An upstream cluster that is not a Service's is gatehouse's own.
	e := entry{route: "r", code: 200}.proto()
	e.CommonProperties.UpstreamCluster = "gatehouse/authz"
	if r, _ := parseEntry("gw", e); r.service != "" {
		t.Errorf("service %q from cluster gatehouse/authz, want none", r.service)
	}
	// Without duration, time_to_last_downstream_tx_byte stands in.
	e = entry{route: "r", code: 200, ms: 7}.proto()
	e.CommonProperties.Duration = nil
	if r, _ := parseEntry("gw", e); r.duration != 7*time.Millisecond {
		t.Errorf("duration %v without common_properties.duration, want 7ms", r.duration)
	}
}

// The store caps every bucket at MaxRows rows plus one overflow row.
func TestStoreRowsBounded(t *testing.T) {
	st := newStore(3*time.Minute, time.Minute, 100)
	now := time.Unix(1800000000, 0)
	over := 0
	for i := range 10000 {
		if i%2500 == 0 {
			now = now.Add(time.Minute)
		}
		if st.add(now, key{Gateway: "g", Route: fmt.Sprint("r", i%97), Consumer: fmt.Sprint("c", i)}, record{class: "2xx"}) {
			over++
		}
	}
	if n := st.rows(); n > 3*101 {
		t.Errorf("%d rows, bound %d", n, 3*101)
	}
	var total uint64
	for _, r := range st.query(now, now.Add(-3*time.Minute), "") {
		total += r.Requests
	}
	// 4 buckets were written; the window keeps the last 3.
	if total != 7500 || over != 4*(2500-100) {
		t.Errorf("reported %d requests (%d overflowed), want 7500 (%d)", total, over, 4*(2400))
	}
}

func TestHandler(t *testing.T) {
	s, _ := newService(t, Options{})
	r, _ := parseEntry("gw", entry{route: "r", consumer: "alice", code: 200}.proto())
	s.count(time.Now(), r, "gold")
	for _, c := range []struct {
		query string
		code  int
		body  string
	}{
		{"", 200, `"consumer": "alice"`},
		{"?since=5m&consumer=alice", 200, `"plan": "gold"`},
		{"?consumer=bob", 200, `"rows": []`},
		{"?since=yesterday", 400, "since: want a duration"},
		{"?since=2h", 400, "usage window"},
		{"?since=-1m", 400, "between 0"},
	} {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/usage"+c.query, nil))
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%s: %d %s, want %d with %q", c.query, w.Code, w.Body, c.code, c.body)
		}
	}
}
