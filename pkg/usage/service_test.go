package usage

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
)

// Several Envoys of two Gateways, each with several worker threads (one
// stream each), flush batches concurrently; the identifier is only on the
// first message of a stream. Each stream is then closed and reopened (a
// reconnect: the identifier comes again). Every figure is exact.
func TestStreamsGiveExactCounts(t *testing.T) {
	s, reg := newService(t, Options{})
	s.Update(map[string]string{"alice": "gold", "bob": "free"})
	conn := server(t, s)

	const envoys, workers, batches, reconnects = 3, 4, 5, 2
	batch := []entry{
		{route: "orders", service: "orders", consumer: "alice", code: 200, ms: 12},
		{route: "orders", service: "orders", consumer: "bob", code: 503, ms: 700},
		{route: "orders", service: "orders", consumer: "bob", code: 429, ms: 1},
		{route: "health", code: 200, ms: 1}, // no ext_authz call: no consumer
	}
	var wg sync.WaitGroup
	errs := make(chan error, envoys*workers*reconnects)
	for e := range envoys {
		gateway := []string{"public", "public", "partner"}[e]
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range reconnects {
					msgs := []*alsv3.StreamAccessLogsMessage{withID(gateway, httpLogs(batch...))}
					for range batches - 1 {
						msgs = append(msgs, httpLogs(batch...))
					}
					errs <- send(t, conn, msgs...)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a well-formed stream was refused: %v", err)
		}
	}

	per := float64(workers * batches * reconnects) // each entry of batch, per Envoy
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_usage_requests_total", map[string]string{"gateway": "public", "route": "orders", "service": "orders", "code_class": "2xx"}, 2 * per},
		{"gatehouse_usage_requests_total", map[string]string{"gateway": "public", "route": "orders", "service": "orders", "code_class": "5xx"}, 2 * per},
		{"gatehouse_usage_requests_total", map[string]string{"gateway": "public", "route": "orders", "service": "orders", "code_class": "4xx"}, 2 * per},
		{"gatehouse_usage_requests_total", map[string]string{"gateway": "partner", "route": "health", "service": "", "code_class": "2xx"}, per},
		{"gatehouse_usage_request_duration_seconds", map[string]string{"gateway": "partner", "route": "orders", "service": "orders"}, 3 * per},
		{"gatehouse_usage_consumer_requests_total", map[string]string{"gateway": "public", "consumer": "alice", "plan": "gold", "code_class": "2xx"}, 2 * per},
		{"gatehouse_usage_consumer_requests_total", map[string]string{"gateway": "partner", "consumer": "bob", "plan": "free", "code_class": "5xx"}, per},
		{"gatehouse_usage_consumer_requests_total", map[string]string{"gateway": "partner", "consumer": "bob", "plan": "free", "code_class": "4xx"}, per},
		{"gatehouse_usage_consumer_requests_total", map[string]string{"gateway": "partner", "consumer": "", "plan": "", "code_class": "2xx"}, per},
		{"gatehouse_usage_entries_total", map[string]string{"result": "counted"}, 4 * 3 * per},
		{"gatehouse_usage_streams", map[string]string{}, 0},
	} {
		if got := value(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, r := range malformedReasons {
		if got := value(t, reg, "gatehouse_usage_malformed_total", map[string]string{"reason": r}); got != 0 {
			t.Errorf("malformed{reason=%s} = %v after well-formed streams", r, got)
		}
	}
	if n := series(t, reg, "gatehouse_usage_malformed_total"); n != len(malformedReasons) {
		t.Errorf("%d malformed series, want one per reason (%d), at 0 from the start", n, len(malformedReasons))
	}

	rep, err := s.Query(0, "bob")
	if err != nil {
		t.Fatal(err)
	}
	u := uint64(per)
	want := []Row{
		{Gateway: "public", Route: "orders", Service: "orders", Consumer: "bob", Plan: "free", Requests: 4 * u, Errors4xx: 2 * u, Errors5xx: 2 * u, LatencyAvgMs: 350.5, LatencyMaxMs: 700},
		{Gateway: "partner", Route: "orders", Service: "orders", Consumer: "bob", Plan: "free", Requests: 2 * u, Errors4xx: u, Errors5xx: u, LatencyAvgMs: 350.5, LatencyMaxMs: 700},
	}
	if fmt.Sprint(rep.Rows) != fmt.Sprint(want) {
		t.Errorf("usage of bob:\n got %+v\nwant %+v", rep.Rows, want)
	}
}

// An Envoy that stays connected keeps its Gateway from the first message:
// later messages without an identifier count under it.
func TestIdentifierOnlyOnFirstMessage(t *testing.T) {
	s, reg := newService(t, Options{})
	conn := server(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := alsv3.NewAccessLogServiceClient(conn).StreamAccessLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(withID("public", httpLogs(entry{route: "a", code: 200})))
	st.Send(httpLogs(entry{route: "a", code: 200}, entry{route: "a", code: 201}))
	// Every send is received before the stream's end is.
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	if got := value(t, reg, "gatehouse_usage_requests_total", map[string]string{"gateway": "public", "route": "a", "service": "", "code_class": "2xx"}); got != 3 {
		t.Errorf("requests = %v, want 3", got)
	}
}
