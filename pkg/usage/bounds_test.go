package usage

import (
	"fmt"
	"testing"
	"time"

	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
)

// A flood of distinct consumers (and routes and gateways) cannot grow the
// series or the store past their documented bounds; what does not fit is
// counted, exactly, under _other.
func TestFloodOfDistinctConsumersStaysBounded(t *testing.T) {
	const (
		maxGateways, maxRoutes, maxConsumers, maxRows = 2, 10, 50, 200
		window, bucket                                = 10 * time.Minute, time.Minute
		gateways, consumers, perMsg                   = 4, 20000, 500
	)
	now := time.Unix(1800000000, 0)
	s, reg := newService(t, Options{MaxGateways: maxGateways, MaxRoutes: maxRoutes, MaxConsumers: maxConsumers, MaxRows: maxRows,
		Window: window, Bucket: bucket, Clock: func() time.Time { return now }})
	conn := server(t, s)

	sent := 0
	for g := range gateways {
		var msgs []*alsv3.StreamAccessLogsMessage
		for i := 0; i < consumers/gateways; i += perMsg {
			var es []entry
			for j := i; j < i+perMsg; j++ {
				es = append(es, entry{route: fmt.Sprintf("route-%d", j%25), service: "svc", consumer: fmt.Sprintf("c-%d-%d", g, j), code: 200, ms: 3})
			}
			sent += len(es)
			msgs = append(msgs, httpLogs(es...))
		}
		msgs[0] = withID(fmt.Sprintf("gw-%d", g), msgs[0])
		if err := send(t, conn, msgs...); err != nil {
			t.Fatal(err)
		}
		now = now.Add(bucket) // the flood spans several buckets
	}

	// Series bounds (documented in doc.go): per code class, at most
	// MaxRoutes + MaxGateways + 1 route series and MaxConsumers +
	// MaxGateways + 1 consumer series (each gateway's _other, and the
	// _other gateway's), times the plans.
	classes := 1
	routeBound := (maxRoutes + maxGateways + 1) * classes
	consumerBound := (maxConsumers + maxGateways + 1) * classes
	for _, c := range []struct {
		name  string
		bound int
	}{
		{"gatehouse_usage_requests_total", routeBound},
		{"gatehouse_usage_request_duration_seconds", routeBound},
		{"gatehouse_usage_consumer_requests_total", consumerBound},
	} {
		n := series(t, reg, c.name)
		t.Logf("%s: %d series for %d entries (bound %d)", c.name, n, sent, c.bound)
		if n > c.bound || n == 0 {
			t.Errorf("%s has %d series, bound %d", c.name, n, c.bound)
		}
	}
	rows := s.storeRows()
	rowBound := int(window/bucket) * (maxRows + 1)
	t.Logf("usage store: %d rows (bound %d)", rows, rowBound)
	if rows > rowBound {
		t.Errorf("usage store holds %d rows, bound %d", rows, rowBound)
	}

	// Every entry is counted exactly once, named or _other.
	total := 0.0
	other := 0.0
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_usage_consumer_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
			for _, l := range m.GetLabel() {
				if l.GetName() == "consumer" && l.GetValue() == Other {
					other += m.GetCounter().GetValue()
				}
			}
		}
	}
	if total != float64(sent) || other != float64(sent-maxConsumers) {
		t.Errorf("consumer series sum to %v (%v under _other), want %d (%d)", total, other, sent, sent-maxConsumers)
	}
	if got := value(t, reg, "gatehouse_usage_overflow_total", map[string]string{"dimension": "consumer"}); got != float64(sent-maxConsumers) {
		t.Errorf("consumer overflow = %v, want %d", got, sent-maxConsumers)
	}
	rep, err := s.Query(0, "")
	if err != nil {
		t.Fatal(err)
	}
	var reported uint64
	for _, r := range rep.Rows {
		reported += r.Requests
	}
	if reported != uint64(sent) {
		t.Errorf("usage report counts %d requests, want %d", reported, sent)
	}
}

// The store answers for its window only: older buckets are not reported,
// since selects buckets, and a since beyond the window is refused.
func TestQueryWindow(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s, _ := newService(t, Options{Window: 10 * time.Minute, Bucket: time.Minute, Clock: func() time.Time { return now }})
	at := func(consumer string, n int) {
		for range n {
			r, _ := parseEntry("gw", entry{route: "r", consumer: consumer, code: 200}.proto())
			s.count(now, r, "")
		}
	}
	at("old", 1)
	now = now.Add(5 * time.Minute)
	at("mid", 2)
	now = now.Add(4 * time.Minute)
	at("new", 3)

	requests := func(since time.Duration, consumer string) map[string]uint64 {
		rep, err := s.Query(since, consumer)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]uint64{}
		for _, r := range rep.Rows {
			out[r.Consumer] += r.Requests
		}
		return out
	}
	for _, c := range []struct {
		since    time.Duration
		consumer string
		want     string
	}{
		{0, "", "map[mid:2 new:3 old:1]"},
		{time.Minute, "", "map[new:3]"},
		{5 * time.Minute, "", "map[mid:2 new:3]"},
		{0, "mid", "map[mid:2]"},
	} {
		if got := fmt.Sprint(requests(c.since, c.consumer)); got != c.want {
			t.Errorf("since %v consumer %q: %s, want %s", c.since, c.consumer, got, c.want)
		}
	}
	now = now.Add(2 * time.Minute) // "old" is now 11 minutes back
	if got := fmt.Sprint(requests(0, "")); got != "map[mid:2 new:3]" {
		t.Errorf("after the window moved: %s, want map[mid:2 new:3]", got)
	}
	if _, err := s.Query(11*time.Minute, ""); err == nil {
		t.Error("since beyond the window accepted")
	}
}
