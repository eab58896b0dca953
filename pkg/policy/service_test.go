package policy

import (
	"fmt"
	"testing"
)

// TestServiceEdgesLoad: a Service at the last allowed value of each bound,
// and with each of TLS's two ways to verify the upstream alone, loads.
func TestServiceEdgesLoad(t *testing.T) {
	const s = "kind: Service\nname: s\nspec:\n"
	const static = s + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n"
	runCleanCases(t, []cleanCase{
		{"tls by name alone", static + "  tls: {sni: api.internal.example}\n", nil, nil},
		{"tls by its own CA alone", static + "  tls: {caFile: certs/internal-ca.pem}\n",
			func(t *testing.T, snap *Snapshot) {
				if tls := snap.Services["s"].Spec.TLS; tls.SNI != "" || len(tls.CAPEM) == 0 {
					t.Errorf("tls %+v", tls)
				}
			}, nil},
		{"no ejection", static + "  outlierDetection: {maxEjectionPercent: 0}\n", nil, nil},
		{"every host ejectable", static + "  outlierDetection: {maxEjectionPercent: 100}\n", nil, nil},
		{"endpoint ports and weights at their ends", s + fmt.Sprintf("  discovery:\n    static:\n      - {address: 127.0.0.1, port: 1, weight: 1}\n      - {address: 127.0.0.1, port: 65535, weight: %d}\n", maxEndpointWeight),
			func(t *testing.T, snap *Snapshot) {
				st := snap.Services["s"].Spec.Discovery.Static
				if st[0].Weight != 1 || st[1].Port != 65535 || st[1].Weight != maxEndpointWeight {
					t.Errorf("endpoints %+v", st)
				}
			}, nil},
		{"circuit breaker at its minimums", static + "  circuitBreaker: {maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 0}\n", nil, nil},
		{"circuit breaker at its maximums", static + "  circuitBreaker: {maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295}\n", nil, nil},
		{"health check at its thresholds' minimum", static + "  healthCheck:\n    http: {path: /healthz, host: health.internal.example}\n    interval: 5s\n    timeout: 1s\n    healthyThreshold: 1\n    unhealthyThreshold: 1\n", nil, nil},
	})
}

// TestBadServiceEdges: the refusing side of the same rules, and the names a
// Service's hashing and health check send.
func TestBadServiceEdges(t *testing.T) {
	const static = service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n" // lines 1-4
	runBadCases(t, []badCase{
		{"hash on a header name with a space", static + "  loadBalancer: {policy: RING_HASH, hashOn: {header: \"x user\"}}\n",
			5, "Service/s", "spec.loadBalancer.hashOn.header", `"x user" is not a valid HTTP header name`},
		{"hash on a pseudo-header", static + "  loadBalancer: {policy: RING_HASH, hashOn: {header: \":path\"}}\n",
			5, "Service/s", "spec.loadBalancer.hashOn.header", `":path" is not a valid HTTP header name`},
		{"hash on a cookie name with a semicolon", static + "  loadBalancer: {policy: MAGLEV, hashOn: {cookie: \"a;b\"}}\n",
			5, "Service/s", "spec.loadBalancer.hashOn.cookie", `"a;b" is not a valid cookie name`},
		{"tls sni not a name", static + "  tls: {sni: \"api example\"}\n",
			5, "Service/s", "spec.tls.sni", `"api example" is not a valid DNS name`},
		{"negative ejection percent", static + "  outlierDetection: {maxEjectionPercent: -1}\n",
			5, "Service/s", "spec.outlierDetection.maxEjectionPercent", `-1 is out of range; 0..100`},
		{"ejection percent one too many", static + "  outlierDetection: {maxEjectionPercent: 101}\n",
			5, "Service/s", "spec.outlierDetection.maxEjectionPercent", `101 is out of range; 0..100`},
		{"endpoint port 0", service + "  discovery: {static: [{address: 127.0.0.1, port: 0}]}\n",
			4, "Service/s", "spec.discovery.static[0].port", `0 is out of range; a port is 1..65535`},
		{"endpoint port 65536", service + "  discovery: {static: [{address: 127.0.0.1, port: 65536}]}\n",
			4, "Service/s", "spec.discovery.static[0].port", `65536 is out of range; a port is 1..65535`},
		{"endpoint weight 0", service + "  discovery: {static: [{address: 127.0.0.1, port: 1, weight: 0}]}\n",
			4, "Service/s", "spec.discovery.static[0].weight", fmt.Sprintf("0 is out of range; an endpoint weight is 1..%d", maxEndpointWeight)},
		{"endpoint weight one too big", service + fmt.Sprintf("  discovery: {static: [{address: 127.0.0.1, port: 1, weight: %d}]}\n", maxEndpointWeight+1),
			4, "Service/s", "spec.discovery.static[0].weight", fmt.Sprintf("%d is out of range", maxEndpointWeight+1)},
		{"negative max retries", static + "  circuitBreaker: {maxRetries: -1}\n",
			5, "Service/s", "spec.circuitBreaker.maxRetries", `-1 is out of range; 0..4294967295`},
		{"health check host not a name", static + "  healthCheck:\n    http: {path: /healthz, host: \"health check\"}\n    interval: 5s\n    timeout: 1s\n",
			6, "Service/s", "spec.healthCheck.http.host", `"health check" is not a valid hostname`},
	})
}
