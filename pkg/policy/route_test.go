package policy

import (
	"fmt"
	"testing"
)

// TestRouteEdgesLoad: a Route at the last allowed value of each bound, and
// with each alternative of a rule alone, loads.
func TestRouteEdgesLoad(t *testing.T) {
	const r = "kind: Route\nname: r\nspec:\n  gateways: [gw]\n"
	const fwd = r + "  backends: [{service: a}]\n"
	runCleanCases(t, []cleanCase{
		{"one retry attempt", fwd + "  retries: {attempts: 1, on: [5xx]}\n", nil, nil},
		{"most retry attempts", fwd + fmt.Sprintf("  retries: {attempts: %d, on: [5xx]}\n", maxRetryAttempts), nil, nil},
		{"rewrite of the host alone", fwd + "  rewrite: {host: internal.example.com}\n", nil, nil},
		{"rewrite of the prefix alone", fwd + "  rewrite: {prefix: /v2}\n", nil, nil},
		{"rewrite by regex alone", fwd + "  rewrite: {regex: {pattern: ^/a, substitution: /b}}\n", nil, nil},
		{"largest backend weight beside weight 0", r + fmt.Sprintf("  backends: [{service: a, weight: %d}, {service: b, weight: 0}]\n", maxBackendWeight),
			func(t *testing.T, s *Snapshot) {
				if bs := s.Routes["r"].Spec.Backends; bs[0].W() != maxBackendWeight || bs[1].W() != 0 {
					t.Errorf("weights %d, %d", bs[0].W(), bs[1].W())
				}
			}, nil},
		// A path block with no path in it matches every path, as no path
		// block does; caseInsensitive alone changes nothing there.
		{"case-insensitive path without a path", fwd + "  match:\n    path: {caseInsensitive: true}\n", nil, nil},
		{"segment-wise prefix", fwd + "  match:\n    path: {prefix: /api, segments: true}\n", nil, nil},
		{"segment-wise root", fwd + "  match:\n    path: {prefix: /, segments: true}\n", nil, nil},
		// The validator sees the client's path; a host rewrite leaves it as is.
		{"validation with a host rewrite", fwd + "  rewrite: {host: internal.example.com}\n  validation: {openapi: api/petstore.yaml}\n", nil,
			map[string]string{"api/petstore.yaml": petstoreDoc(t)}},
	})
}

// TestBadRouteEdges: the refusing side of the same rules.
func TestBadRouteEdges(t *testing.T) {
	const fwd = route + "  gateways: [gw]\n  backends: [{service: a}]\n" // lines 1-5
	runBadCases(t, []badCase{
		{"no retry attempts", fwd + "  retries: {attempts: 0, on: [5xx]}\n",
			6, "Route/r", "spec.retries.attempts", fmt.Sprintf("0 is out of range; 1..%d", maxRetryAttempts)},
		{"one retry attempt too many", fwd + fmt.Sprintf("  retries: {attempts: %d, on: [5xx]}\n", maxRetryAttempts+1),
			6, "Route/r", "spec.retries.attempts", fmt.Sprintf("%d is out of range; 1..%d", maxRetryAttempts+1, maxRetryAttempts)},
		{"empty rewrite", fwd + "  rewrite: {}\n",
			6, "Route/r", "spec.rewrite", `set at least one of prefix, regex, host (or remove rewrite)`},
		{"backend weight one too big", route + "  gateways: [gw]\n" + fmt.Sprintf("  backends: [{service: a, weight: %d}]\n", maxBackendWeight+1),
			5, "Route/r", "spec.backends[0].weight", fmt.Sprintf("%d is out of range; 0..%d", maxBackendWeight+1, maxBackendWeight)},
		{"negative backend weight", route + "  gateways: [gw]\n  backends: [{service: a, weight: -1}, {service: b}]\n",
			5, "Route/r", "spec.backends[0].weight", fmt.Sprintf("-1 is out of range; 0..%d", maxBackendWeight)},
		// An empty path, however written, would match every path.
		{"empty path prefix", fwd + "  match:\n    path: {prefix: \"\"}\n",
			7, "Route/r", "spec.match.path", `the path must not be empty; omit path to match every path`},
		{"empty exact path", fwd + "  match:\n    path: {exact: \"\"}\n",
			7, "Route/r", "spec.match.path", `the path must not be empty`},
		{"empty path regex", fwd + "  match:\n    path: {regex: \"\"}\n",
			7, "Route/r", "spec.match.path", `the path must not be empty`},
	})
}
