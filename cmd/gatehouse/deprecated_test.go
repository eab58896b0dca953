package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/usage"
)

// TestDeprecatedInUse: requests are summed over services, consumers and
// gateways; a YAML timestamp (rendered by the store as RFC 3339) and a
// date string both count; a deprecation in the future or no traffic is
// not listed; without usage analytics the deprecated routes are named and
// the traffic said to be unknown.
func TestDeprecatedInUse(t *testing.T) {
	objs := []api.Object{
		{Kind: "Route", Name: "a", Object: []byte(`{"spec":{"version":{"name":"v1","deprecation":"2025-01-01T00:00:00Z","sunset":"2027-01-01"}}}`)},
		{Kind: "Route", Name: "b", Object: []byte(`{"spec":{"version":{"name":"v1","deprecation":"2025-02-01"}}}`)},
		{Kind: "Route", Name: "future", Object: []byte(`{"spec":{"version":{"name":"v9","deprecation":"2999-01-01"}}}`)},
		{Kind: "Route", Name: "idle", Object: []byte(`{"spec":{"version":{"name":"v0","deprecation":"2020-01-01"}}}`)},
		{Kind: "Route", Name: "plain", Object: []byte(`{"spec":{}}`)},
	}
	rows := []usage.Row{
		{Gateway: "public", Route: "a", Consumer: "x", Requests: 2},
		{Gateway: "internal", Route: "a", Consumer: "y", Requests: 3},
		{Gateway: "public", Route: "a", Consumer: "z", Requests: 1},
		{Gateway: "public", Route: "b", Requests: 9},
		{Gateway: "public", Route: "future", Requests: 100},
		{Gateway: "public", Route: "plain", Requests: 100},
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	got := deprecatedInUse(objs, rows, now, false)
	if len(got) != 2 || got[0].Route != "b" || got[0].Requests != 9 || got[1].Route != "a" || got[1].Requests != 6 ||
		strings.Join(got[1].Gateways, ",") != "internal,public" {
		t.Fatalf("got %+v", got)
	}
	var out bytes.Buffer
	printDeprecated(&out, got, usage.Report{From: now.Add(-time.Hour)}, nil, now)
	if !strings.Contains(out.String(), "a      v1       2025-01-01  2027-01-01  6         internal,public  (none)") {
		t.Errorf("table:\n%s", out.String())
	}
	out.Reset()
	printDeprecated(&out, deprecatedInUse(objs, nil, now, true), usage.Report{}, errors.New("404 Not Found"), now)
	if want := "Deprecated routes: a, b, idle; whether they still receive traffic is unknown: usage analytics unavailable (404 Not Found)"; !strings.Contains(out.String(), want) {
		t.Errorf("without usage: %q, want %q", out.String(), want)
	}
}
