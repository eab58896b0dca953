package e2e

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// flakyBackend fails the first x-fail-attempts attempts of each call with
// UNAVAILABLE (grpc-go numbers a call's retries in the
// grpc-previous-rpc-attempts header) and holds a call for x-sleep before
// answering, so a test can see both retries and deadlines as a real
// grpc-go client applies them.
type flakyBackend struct {
	testpb.UnimplementedTestServiceServer
}

func (flakyBackend) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	prev, _ := strconv.Atoi(first("grpc-previous-rpc-attempts"))
	fail, _ := strconv.Atoi(first("x-fail-attempts"))
	if prev < fail {
		return nil, status.Errorf(codes.Unavailable, "attempt %d fails", prev+1)
	}
	if d, err := time.ParseDuration(first("x-sleep")); err == nil {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &testpb.SimpleResponse{ServerId: fmt.Sprintf("attempt %d", prev+1)}, nil
}

func startFlaky(t *testing.T) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, flakyBackend{})
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return &backend{Name: "flaky", Addr: l.Addr().String(), Port: l.Addr().(*net.TCPAddr).Port}
}

// callWithin makes one UnaryCall with the caller's deadline d (sent as
// grpc-timeout) and metadata md; it returns the answer or "error: ...".
func callWithin(c testpb.TestServiceClient, d time.Duration, md ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, md...)
	resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil {
		return "error: " + err.Error()
	}
	return resp.ServerId
}

// A real grpc-go client honours a Route's retries (attempts, gRPC status
// conditions, back-off) and its grpcTimeout cap: a caller that asks for a
// long deadline (grpc-timeout) cannot hold the backend longer than max.
// Routes without retries fail on the first UNAVAILABLE.
func TestProxylessRetriesAndGRPCTimeout(t *testing.T) {
	t.Parallel()
	flaky := startFlaky(t)
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": staticService("flaky", flaky),
		"routes.yaml": `kind: Route
name: plain
spec:
  gateways: [public]
  hosts: [retry.test]
  backends: [{service: flaky}]
---
kind: Route
name: retried
spec:
  gateways: [public]
  hosts: [retry.test]
  match:
    headers: [{name: x-route, exact: retried}]
  backends: [{service: flaky}]
  retries:
    attempts: 2
    on: [unavailable]
    backoff: {base: 10ms, max: 50ms}
---
kind: Route
name: capped
spec:
  gateways: [public]
  hosts: [retry.test]
  match:
    headers: [{name: x-route, exact: capped}]
  backends: [{service: flaky}]
  timeout: 10s
  grpcTimeout: {max: 300ms}
`,
	})
	g := startGatehouse(t, dir)
	c := xdsClient(t, g, "public", "retry-client", "retry.test")
	took := waitFor(t, 10*time.Second, c, "attempt 1")
	t.Logf("configuration served after %v", took)
	// The retried and capped routes may arrive after the plain one: wait
	// (bounded) until the retried route answers a call failing once.
	deadline := time.Now().Add(10 * time.Second)
	for got := callWithin(c, time.Second, "x-route", "retried", "x-fail-attempts", "1"); got != "attempt 2"; got = callWithin(c, time.Second, "x-route", "retried", "x-fail-attempts", "1") {
		if time.Now().After(deadline) {
			t.Fatalf("retry policy not applied within 10s; last answer %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cases := []struct {
		md   []string
		want string
	}{
		{[]string{"x-route", "retried", "x-fail-attempts", "2"}, "attempt 3"},                                              // 1 + 2 retries
		{[]string{"x-route", "retried", "x-fail-attempts", "3"}, "failed after 3 attempts: rpc error: code = Unavailable"}, // retries spent
		{[]string{"x-fail-attempts", "1"}, "error: rpc error: code = Unavailable"},                                         // no retries
	}
	for _, tc := range cases {
		for i := 0; i < 5; i++ {
			if got := callWithin(c, 2*time.Second, tc.md...); !strings.Contains(got, tc.want) {
				t.Fatalf("call %v #%d answered %q, want %q", tc.md, i, got, tc.want)
			}
		}
	}
	// The caller asks for 30s; the Route caps the call at 300ms (bound:
	// 2s, generous for a loaded machine), against a backend taking 5s.
	for i := 0; i < 3; i++ {
		start := time.Now()
		got := callWithin(c, 30*time.Second, "x-route", "capped", "x-sleep", "5s")
		d := time.Since(start)
		if !strings.Contains(got, "DeadlineExceeded") || d < 300*time.Millisecond || d > 2*time.Second {
			t.Fatalf("capped call answered %q after %v, want DeadlineExceeded after 300ms..2s", got, d)
		}
		t.Logf("capped call ended after %v (grpcTimeout.max 300ms, caller asked 30s)", d)
	}
	assertNoNACKs(t, g)
}
