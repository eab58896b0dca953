package policy

import (
	"strings"
	"testing"
	"time"
)

// TestBadRetriesAndTimeouts: settings Envoy would silently ignore or
// refuse are errors naming file, line, object and field.
func TestBadRetriesAndTimeouts(t *testing.T) {
	const r = route + "  gateways: [gw]\n  backends: [{service: a}]\n" // lines 1-5
	runBadCases(t, []badCase{
		{"per-try timeout not below the route timeout", r + "  timeout: 1s\n  retries:\n    attempts: 2\n    on: [5xx]\n    perTryTimeout: 1s\n",
			10, "Route/r", "spec.retries.perTryTimeout", `1s is not below the Route's timeout 1s: Envoy would ignore it`},
		{"per-try timeout not below the stream timeout", r + "  streamTimeout: 2s\n  retries:\n    attempts: 2\n    on: [5xx]\n    perTryTimeout: 3s\n",
			10, "Route/r", "spec.retries.perTryTimeout", `3s is not below the Route's streamTimeout 2s`},
		{"per-try idle timeout not below per-try timeout", r + "  retries:\n    attempts: 2\n    on: [5xx]\n    perTryTimeout: 1s\n    perTryIdleTimeout: 1s\n",
			10, "Route/r", "spec.retries.perTryIdleTimeout", `1s is not below perTryTimeout 1s`},
		{"retries without a condition", r + "  retries: {attempts: 2}\n",
			6, "Route/r", "spec.retries.on", `required: list the conditions to retry on (or statusCodes)`},
		{"retriable status out of range", r + "  retries:\n    attempts: 2\n    statusCodes: [503, 600]\n",
			8, "Route/r", "spec.retries.statusCodes[1]", `600 is not an HTTP status; 100..599`},
		{"duplicate retriable status", r + "  retries:\n    attempts: 2\n    statusCodes: [503, 503]\n",
			8, "Route/r", "spec.retries.statusCodes[1]", `duplicate status 503`},
		{"back-off without base", r + "  retries:\n    attempts: 2\n    on: [5xx]\n    backoff: {max: 1s}\n",
			9, "Route/r", "spec.retries.backoff.base", `required and greater than 0`},
		{"back-off max below base", r + "  retries:\n    attempts: 2\n    on: [5xx]\n    backoff: {base: 1s, max: 100ms}\n",
			9, "Route/r", "spec.retries.backoff.max", `100ms is below base 1s`},
		{"hedging without per-try timeout", r + "  retries:\n    attempts: 2\n    on: [5xx]\n    hedgeOnPerTryTimeout: true\n",
			9, "Route/r", "spec.retries.hedgeOnPerTryTimeout", `needs perTryTimeout`},
		{"hedging false", r + "  retries:\n    attempts: 2\n    on: [5xx]\n    perTryTimeout: 1s\n    hedgeOnPerTryTimeout: false\n",
			10, "Route/r", "spec.retries.hedgeOnPerTryTimeout", `only true is allowed`},
		{"timeout and stream timeout", r + "  timeout: 5s\n  streamTimeout: 1m\n",
			7, "Route/r", "spec.streamTimeout", `set at most one of timeout, streamTimeout`},
		{"zero idle timeout", r + "  idleTimeout: 0s\n",
			6, "Route/r", "spec.idleTimeout", `must be greater than 0`},
		{"grpc timeout without max", r + "  grpcTimeout: {offset: 10ms}\n",
			6, "Route/r", "spec.grpcTimeout.max", `required and greater than 0`},
		{"grpc timeout offset not below max", r + "  grpcTimeout: {max: 1s, offset: 1s}\n",
			6, "Route/r", "spec.grpcTimeout.offset", `1s is not below max 1s`},
		{"idle timeout on a redirect", route + "  gateways: [gw]\n  redirect: {host: example.com}\n  idleTimeout: 5s\n",
			6, "Route/r", "spec.idleTimeout", `applies only to a Route with backends`},
		{"retry budget percent zero", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  circuitBreaker:\n    retryBudget: {percent: 0}\n",
			6, "Service/s", "spec.circuitBreaker.retryBudget.percent", `0 is out of range; more than 0 and at most 100`},
		{"retry budget percent over 100", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  circuitBreaker:\n    retryBudget: {percent: 100.5}\n",
			6, "Service/s", "spec.circuitBreaker.retryBudget.percent", `100.5 is out of range`},
		{"retry budget negative concurrency", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  circuitBreaker:\n    retryBudget: {minConcurrency: -1}\n",
			6, "Service/s", "spec.circuitBreaker.retryBudget.minConcurrency", `-1 is out of range`},
		{"retry budget with max retries", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  circuitBreaker:\n    maxRetries: 5\n    retryBudget: {percent: 20}\n",
			7, "Service/s", "spec.circuitBreaker.retryBudget", `set at most one of maxRetries, retryBudget`},
	})
}

// TestRetriesAndTimeoutsLoad: the full set loads, status codes alone are a
// retry condition, and a per-try timeout below the timeout is fine.
func TestRetriesAndTimeoutsLoad(t *testing.T) {
	s := Load(testFS(t, map[string]string{"ok.yaml": `kind: Route
name: ok
spec:
  gateways: [gw]
  backends: [{service: a}]
  timeout: 3s
  idleTimeout: 30s
  grpcTimeout: {max: 10s, offset: 20ms}
  retries:
    attempts: 3
    statusCodes: [429]
    perTryTimeout: 1s
    perTryIdleTimeout: 200ms
    backoff: {base: 25ms, max: 250ms}
    hedgeOnPerTryTimeout: true
---
kind: Service
name: budgeted
spec:
  discovery: {static: [{address: 127.0.0.1, port: 1}]}
  circuitBreaker: {maxRequests: 10, retryBudget: {percent: 12.5, minConcurrency: 0}}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors:\n%s", strings.Join(errs, "\n"))
	}
	rt := s.Routes["ok"].Spec.Retries
	if !rt.HedgeOnPerTryTimeout || rt.Backoff.Max.D().String() != "250ms" || len(rt.StatusCodes) != 1 {
		t.Errorf("retries decoded as %+v", rt)
	}
	if b := s.Services["budgeted"].Spec.CircuitBreaker.RetryBudget; *b.Percent != 12.5 || *b.MinConcurrency != 0 {
		t.Errorf("budget decoded as %+v", b)
	}
}

// TestTimeoutEdgesLoad: what the timeout rules do not refuse. A stream
// timeout alone; a per-try timeout on a Route without a timeout of its own
// (streaming: no whole-call bound for it to exceed); a per-try idle timeout
// without a per-try timeout; a retry budget of 100%.
func TestTimeoutEdgesLoad(t *testing.T) {
	const fwd = "kind: Route\nname: r\nspec:\n  gateways: [gw]\n  backends: [{service: a}]\n"
	runCleanCases(t, []cleanCase{
		{"stream timeout alone", fwd + "  streamTimeout: 1m\n", nil, nil},
		{"per-try timeout on a streaming Route without a timeout", fwd + "  streaming: true\n  retries: {attempts: 2, on: [5xx], perTryTimeout: 30s}\n", nil, nil},
		{"retriable statuses at both ends", fwd + "  retries: {attempts: 2, statusCodes: [100, 599]}\n", nil, nil},
		// Envoy refuses only max_interval below base_interval
		// (source/common/router/retry_policy_impl.cc, RetryPolicyImpl).
		{"back-off max equal to base", fwd + "  retries: {attempts: 2, on: [5xx], backoff: {base: 1s, max: 1s}}\n", nil, nil},
		{"per-try idle timeout alone", fwd + "  retries: {attempts: 2, on: [5xx], perTryIdleTimeout: 1s}\n", nil, nil},
		{"retry budget of everything", "kind: Service\nname: s\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  circuitBreaker: {retryBudget: {percent: 100}}\n", nil, nil},
	})
}

// TestEffectiveTimeout: a Route's own timeout, else Envoy's default of
// 15s (source/common/router/config_impl.cc, DEFAULT_ROUTE_TIMEOUT_MS),
// except on a streaming Route: none.
func TestEffectiveTimeout(t *testing.T) {
	own := &Route{Spec: RouteSpec{Timeout: Duration(3 * time.Second)}}
	none := &Route{}
	for _, tc := range []struct {
		r         *Route
		streaming bool
		want      time.Duration
	}{
		{own, false, 3 * time.Second}, {own, true, 3 * time.Second},
		{none, false, 15 * time.Second}, {none, true, 0},
	} {
		if got := tc.r.EffectiveTimeout(tc.streaming); got != tc.want {
			t.Errorf("timeout %s, streaming %v: %s, want %s", tc.r.Spec.Timeout.D(), tc.streaming, got, tc.want)
		}
	}
}
