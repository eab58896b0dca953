package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/usage"
)

func TestUsageVerb(t *testing.T) {
	var asked string
	rep := usage.Report{From: time.Unix(0, 0).UTC(), To: time.Unix(900, 0).UTC(), Rows: []usage.Row{
		{Gateway: "public", Route: "orders", Service: "orders", Consumer: "acme", Plan: "gold", Requests: 10, Errors4xx: 2, Errors5xx: 1, LatencyAvgMs: 12.5, LatencyMaxMs: 40},
		{Gateway: "public", Route: "health", Requests: 3},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.String()
		json.NewEncoder(w).Encode(rep)
	}))
	defer srv.Close()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		root := newRootCmd(&out, &out)
		root.SetArgs(append([]string{"usage", "--server", srv.URL}, args...))
		err := root.Execute()
		return out.String(), err
	}

	out, err := run("--consumer", "acme", "--since", "15m")
	if err != nil {
		t.Fatal(err)
	}
	if asked != "/api/v1/usage?consumer=acme&since=15m0s" {
		t.Errorf("asked %s", asked)
	}
	for _, want := range []string{"GATEWAY  ROUTE   SERVICE  CONSUMER  PLAN  REQUESTS  4XX  5XX  AVG MS  MAX MS",
		"public   orders  orders   acme      gold  10        2    1    12.5    40.0",
		"public   health  -        -         -     3         0    0    0.0     0.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	out, err = run("-o", "json")
	var got usage.Report
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got.Rows) != 2 || got.Rows[0].Consumer != "acme" {
		t.Errorf("json: %v %s", err, out)
	}
	if asked != "/api/v1/usage" {
		t.Errorf("asked %s without flags", asked)
	}
	if _, err := run("-o", "yaml"); err == nil || !strings.Contains(err.Error(), "want table or json") {
		t.Errorf("-o yaml: %v", err)
	}
}
