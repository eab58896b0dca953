package explain

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

const edgePolicy = `
kind: Gateway
name: edge
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
  ipAccess: {allow: [10.0.0.0/8], deny: [10.66.0.0/16]}
  limits: {perClient: {requestsPerSecond: 20, burst: 40, exempt: [10.1.0.0/16]}}
---
kind: Service
name: orders
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: all
spec:
  gateways: [edge]
  backends: [{service: orders}]
`

// TestExplainEdge: explain says what the IP lists and the per-client limit
// do for the client address given, and that it depends on it otherwise.
func TestExplainEdge(t *testing.T) {
	in := inputsOf(t, edgePolicy)
	for _, c := range []struct {
		client     string
		rbac, rate string
	}{
		{"10.5.5.5", "client 10.5.5.5 allowed", "client 10.5.5.5 is counted"},
		{"10.1.2.3", "client 10.1.2.3 allowed", "client 10.1.2.3 is exempt: not counted"},
		{"10.66.1.1", "client 10.66.1.1 is not allowed: 403", "client 10.66.1.1 is counted"},
		{"198.51.100.7", "client 198.51.100.7 is not allowed: 403", "is counted"},
		{"", "allows only clients in [10.0.0.0/8] and not in [10.66.0.0/16], else 403", "depends on its address"},
	} {
		res := explainOK(t, in, Request{Gateway: "edge", Host: "api.example.com", Path: "/", ClientIP: c.client})
		if res.Route == nil {
			t.Fatalf("no route: %s", res.NoMatch)
		}
		got := map[string]string{}
		for _, f := range res.Route.Filters {
			got[f.Filter] = f.Effect
		}
		if e := got[wire.FilterEdgeRBAC]; !strings.Contains(e, c.rbac) {
			t.Errorf("client %q: rbac %q, want %q", c.client, e, c.rbac)
		}
		if e := got[wire.FilterEdgeLocalRateLimit]; !strings.Contains(e, c.rate) || !strings.Contains(e, "20 requests per 1s, bursts up to 40") {
			t.Errorf("client %q: limit %q, want %q", c.client, e, c.rate)
		}
	}
}
