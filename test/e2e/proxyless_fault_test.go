package e2e

import (
	"strings"
	"testing"
	"time"
)

// A real grpc-go client honours a Route's fault (gRFC A33): an abort with
// a gRPC status fails every call it matches with that status, a delay
// holds calls for at least its duration, calls to other Routes are
// untouched, and a whenHeader fault (which grpc-go's filter cannot
// restrict to the header) is not served to it at all, with a status note.
func TestProxylessFaultInjection(t *testing.T) {
	t.Parallel()
	open := startBackend(t, "open")
	dir := t.TempDir()
	const delay = 300 * time.Millisecond
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": staticService("open", open),
		"routes.yaml": `kind: Route
name: plain
spec:
  gateways: [public]
  hosts: [fault.test]
  backends: [{service: open}]
---
kind: Route
name: aborted
spec:
  gateways: [public]
  hosts: [fault.test]
  match:
    path: {prefix: /grpc.testing.TestService/Unary}
    headers: [{name: x-variant, exact: abort}]
  backends: [{service: open}]
  fault:
    abort: {grpcStatus: 8, percent: 100}
---
kind: Route
name: slow
spec:
  gateways: [public]
  hosts: [fault.test]
  match:
    path: {prefix: /grpc.testing.TestService/Unary}
    headers: [{name: x-variant, exact: slow}]
  backends: [{service: open}]
  fault:
    delay: {duration: 300ms, percent: 100}
---
kind: Route
name: opt-in
spec:
  gateways: [public]
  hosts: [fault.test]
  match:
    path: {prefix: /grpc.testing.TestService/Unary}
    headers: [{name: x-variant, exact: opt-in}]
  backends: [{service: open}]
  fault:
    abort: {grpcStatus: 14, percent: 100}
    whenHeader: {name: x-chaos, exact: "on"}
`,
	})
	g := startGatehouse(t, dir)
	c := xdsClient(t, g, "public", "fault-client", "fault.test")
	took := waitFor(t, 10*time.Second, c, "open")
	t.Logf("configuration served after %v", took)
	// The abort route may arrive with the table: wait (bounded) until it
	// fails, then every call must fail.
	deadline := time.Now().Add(10 * time.Second)
	for got := call(c, "x-variant", "abort"); !strings.Contains(got, "ResourceExhausted"); got = call(c, "x-variant", "abort") {
		if time.Now().After(deadline) {
			t.Fatalf("abort fault not injected within 10s; last answer %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		if got := call(c, "x-variant", "abort"); !strings.HasPrefix(got, "error: ") || !strings.Contains(got, "ResourceExhausted") {
			t.Fatalf("call %d to the aborted Route answered %q, want RESOURCE_EXHAUSTED", i, got)
		}
	}
	for i := 0; i < 3; i++ {
		start := time.Now()
		got := call(c, "x-variant", "slow")
		d := time.Since(start)
		if got != "open" || d < delay {
			t.Fatalf("call %d to the slow Route answered %q after %v, want open after at least %v", i, got, d, delay)
		}
		t.Logf("delayed call took %v (fault delay %v)", d, delay)
	}
	for _, md := range [][]string{nil, {"x-variant", "opt-in"}, {"x-variant", "opt-in", "x-chaos", "on"}} {
		start := time.Now()
		if got := call(c, md...); got != "open" || time.Since(start) >= delay {
			t.Fatalf("call %v answered %q after %v, want open without a fault", md, got, time.Since(start))
		}
	}
	assertNoNACKs(t, g)
	out, err := run(t, "status", "--server", g.AdminAddr)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if want := "Gateway/public: Route/opt-in's fault is not applied to proxyless gRPC clients"; !strings.Contains(out, want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}
}
