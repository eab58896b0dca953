package authz

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpcmd "google.golang.org/grpc/metadata"

	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
	"github.com/gatehouse-dev/gatehouse/pkg/tracing/tracingtest"
)

// tracedClient serves a Service tracing to endpoint over real gRPC on
// loopback and returns a client, the service and its decision log.
func tracedClient(t *testing.T, endpoint string, percent float64) (authv3.AuthorizationClient, *decisions, *tracing.Tracing) {
	t.Helper()
	tr, err := tracing.New(tracing.Options{Endpoint: endpoint, SamplePercent: percent, BatchTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	logs := &decisions{}
	s, err := New(Options{DecisionLogger: logs.log, EvalTimeout: 10 * time.Second, TracerProvider: tr.Provider()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Policies["rbac"] = Policy{Modules: map[string]string{"policy.rego": rbacPolicy}}
	if err := s.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	s.Register(g)
	go g.Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		g.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tr.Shutdown(ctx)
	})
	return authv3.NewAuthorizationClient(conn), logs, tr
}

// envoyCall is a Check as Envoy's gRPC client makes it: its own span's
// traceparent in the call's metadata.
func envoyCall(t *testing.T, c authv3.AuthorizationClient, traceparent string, r *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if traceparent != "" {
		ctx = grpcmd.AppendToOutgoingContext(ctx, "traceparent", traceparent)
	}
	resp, err := c.Check(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func traceparent(trace, parent, flags string) string {
	return "00-" + trace + "-" + parent + "-" + flags
}

func TestCheckSpanContinuesEnvoysTrace(t *testing.T) {
	rcv := tracingtest.Start(t)
	c, logs, _ := tracedClient(t, rcv.Addr, 0) // 0%: only a sampled parent makes spans
	const trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := req{headers: map[string]string{"x-api-key": testKey}, ext: ext("orders", "partner-keys", "rbac")}.build(t)
	envoyCall(t, c, traceparent(trace, parent, "01"), r)
	d := logs.last(t)
	got, took := rcv.WaitFor(t, 20*time.Second, 1, func(s tracingtest.Span) bool { return s.TraceID == trace })
	t.Logf("span arrived after %v", took)
	s := got[0]
	if s.ParentSpanID != parent || s.Name != SpanName || s.Kind != tracingtest.SpanKindServer || s.Scope != TracerName {
		t.Errorf("span %v: want a server span %s, child of %s", s, SpanName, parent)
	}
	want := map[string]string{
		AttrDecisionID: d.ID, AttrEngine: d.Engine, AttrOutcome: map[bool]string{true: "allow", false: "deny"}[d.Allowed],
		AttrGateway: "public", AttrRoute: "orders", AttrPolicy: "rbac", AttrConsumer: "acme",
	}
	if d.Engine == "" {
		t.Fatalf("no Rego engine ran: %+v", d)
	}
	for k, v := range want {
		if s.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q (span %v)", k, s.Attributes[k], v, s)
		}
	}

	// Envoy not tracing: the client's own traceparent header is the parent.
	const trace2, parent2 = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	r2 := req{headers: map[string]string{"x-api-key": "gh_wrong", "traceparent": traceparent(trace2, parent2, "01")}, ext: ext("orders", "partner-keys", "")}.build(t)
	envoyCall(t, c, "", r2)
	got, _ = rcv.WaitFor(t, 20*time.Second, 1, func(s tracingtest.Span) bool { return s.TraceID == trace2 })
	if s := got[0]; s.ParentSpanID != parent2 || s.Attributes[AttrOutcome] != "deny" || s.Attributes[AttrStatus] != "401" || s.Attributes[AttrEngine] != "none" {
		t.Errorf("header parent: span %v", s)
	}
}

// An attacker's credentials in every place a request can carry them must
// not reach any span attribute (nor anything else the collector gets).
func TestCheckSpanHasNoCredentials(t *testing.T) {
	rcv := tracingtest.Start(t)
	c, _, _ := tracedClient(t, rcv.Addr, 100)
	secrets := []string{testKey, "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "s3cr3t-session", "gh_wrong-key-attacker", "gh_query-secret"}
	rs := []req{
		{headers: map[string]string{"x-api-key": testKey, "authorization": "Bearer " + secrets[1], "cookie": "session=" + secrets[2]}, ext: ext("r", "partner-keys", "rbac")},
		{headers: map[string]string{"x-api-key": secrets[3], "authorization": "Basic " + secrets[3]}, ext: ext("r", "partner-keys", "")},
		{path: "/x?api_key=" + secrets[4], ext: ext("r", "query-keys", "")},
		{path: "/x?api_key=" + testKey, headers: map[string]string{"cookie": secrets[2]}, ext: ext("r", "query-keys", "partners-only")},
	}
	for i, r := range rs {
		envoyCall(t, c, traceparent(strings.Repeat("a", 31)+string(rune('1'+i)), "00f067aa0ba902b7", "01"), r.build(t))
	}
	rcv.WaitFor(t, 20*time.Second, len(rs), tracingtest.Named(SpanName))
	raw := rcv.Raw()
	for _, sec := range secrets {
		if strings.Contains(raw, sec) {
			t.Errorf("the collector received %q:\n%s", sec, raw)
		}
	}
	if strings.Contains(raw, "api_key") {
		t.Errorf("the collector received a query string:\n%s", raw)
	}
}

func TestCheckSpanSampling(t *testing.T) {
	rcv := tracingtest.Start(t)
	c, _, _ := tracedClient(t, rcv.Addr, 0)
	r := req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "partner-keys", "")}.build(t)
	const unsampled, noParent, barrier = "11111111111111111111111111111111", "", "22222222222222222222222222222222"
	envoyCall(t, c, traceparent(unsampled, "00f067aa0ba902b7", "00"), r) // Envoy decided not to sample
	envoyCall(t, c, noParent, r)                                         // no trace: 0% of roots
	envoyCall(t, c, traceparent(barrier, "00f067aa0ba902b7", "01"), r)   // sampled: exported after the others
	rcv.WaitFor(t, 20*time.Second, 1, func(s tracingtest.Span) bool { return s.TraceID == barrier })
	if n := len(rcv.Spans()); n != 1 {
		t.Errorf("%d spans exported, want only the sampled one:\n%s", n, rcv.Raw())
	}

	// 100% of roots: a request without trace context starts one.
	rcv2 := tracingtest.Start(t)
	c2, _, _ := tracedClient(t, rcv2.Addr, 100)
	envoyCall(t, c2, "", r)
	if s, _ := rcv2.WaitFor(t, 20*time.Second, 1, tracingtest.Named(SpanName)); s[0].ParentSpanID != "" {
		t.Errorf("root span has a parent: %v", s[0])
	}
}

// A collector that is down costs decisions nothing: spans queue (bounded)
// and are dropped; shutting down is bounded too.
func TestCheckExporterDownDoesNotSlowDecisions(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close() // nothing listens there now
	c, logs, tr := tracedClient(t, dead, 100)
	r := req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "partner-keys", "rbac")}.build(t)
	const n = 3000 // beyond the queue (DefaultQueueSize): drops must not block
	var worst time.Duration
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		resp := envoyCall(t, c, traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01"), r)
		worst = max(worst, time.Since(t0))
		if resp.GetOkResponse() == nil {
			t.Fatalf("decision %d: %v", i, resp)
		}
	}
	total := time.Since(start)
	t.Logf("%d decisions with the collector down: %v total, worst %v", n, total, worst)
	if worst > time.Second {
		t.Errorf("a decision took %v with the collector down (bound 1s)", worst)
	}
	if len(logs.all) != n {
		t.Errorf("%d decisions logged, want %d", len(logs.all), n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	_ = tr.Shutdown(ctx)
	if took := time.Since(t0); took > 10*time.Second {
		t.Errorf("shutdown took %v (bound 10s)", took)
	} else {
		t.Logf("shutdown with the collector down took %v", took)
	}
}
