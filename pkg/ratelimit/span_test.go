package ratelimit

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
	"github.com/gatehouse-dev/gatehouse/pkg/tracing/tracingtest"
)

// A ShouldRateLimit call carrying Envoy's traceparent in its metadata
// yields a child span with engine, decision id and outcome, and no
// descriptor value (an attacker's credential sent as a rate-limited
// header); an unsampled parent yields none.
func TestShouldRateLimitSpan(t *testing.T) {
	rcv := tracingtest.Start(t)
	tr, err := tracing.New(tracing.Options{Endpoint: rcv.Addr, SamplePercent: 0, BatchTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	store := NewMemoryStore(MemoryOptions{JanitorInterval: -1})
	defer store.Close()
	svc, err := New(Options{Store: store, TracerProvider: tr.Provider()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := basicConfig()
	if err := svc.Update(cfg); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	svc.Register(g)
	go g.Serve(lis)
	defer g.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := rlsv3.NewRateLimitServiceClient(conn)

	const secret = "Bearer eyJhbGciOiJIUzI1NiJ9.e30.attacker-secret"
	call := func(trace, flags string) *rlsv3.RateLimitResponse {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", "00-"+trace+"-00f067aa0ba902b7-"+flags)
		// 2 per minute per remote_address, shadowed; the value is what an
		// attacker controls.
		resp, err := c.ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: []*rlcommon.RateLimitDescriptor{desc("ratelimit", "shadowed#0", "remote_address", secret)}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	const unsampled, ok, over = "11111111111111111111111111111111", "4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"
	call(unsampled, "00")
	call(ok, "01")
	h := desc("ratelimit", "per-consumer#0", "consumer", "alice")
	for i := 0; i < 100; i++ {
		svc.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: []*rlcommon.RateLimitDescriptor{h}})
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-"+over+"-00f067aa0ba902b7-01")
	if r, err := c.ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{Domain: "gatehouse/public", Descriptors: []*rlcommon.RateLimitDescriptor{h}}); err != nil || r.OverallCode != OVER {
		t.Fatalf("101st request: %v %v", r, err)
	}
	got, took := rcv.WaitFor(t, 20*time.Second, 2, tracingtest.Named(SpanName))
	t.Logf("spans arrived after %v", took)
	by := map[string]tracingtest.Span{}
	for _, s := range got {
		by[s.TraceID] = s
	}
	for trace, outcome := range map[string]string{ok: "ok", over: "over_limit"} {
		s := by[trace]
		if s.ParentSpanID != "00f067aa0ba902b7" || s.Attributes[AttrOutcome] != outcome || s.Attributes[AttrEngine] != "memory" ||
			s.Attributes[AttrDomain] != "gatehouse/public" || len(s.Attributes[AttrDecisionID]) != 16 || s.Kind != tracingtest.SpanKindServer {
			t.Errorf("trace %s: span %v, want outcome %s", trace, s, outcome)
		}
	}
	if _, ok := by[unsampled]; ok || len(got) != 2 {
		t.Errorf("unsampled or untraced calls exported: %v", got)
	}
	if raw := rcv.Raw(); strings.Contains(raw, "attacker-secret") || strings.Contains(raw, "alice") {
		t.Errorf("a descriptor value reached the collector:\n%s", raw)
	}
}
