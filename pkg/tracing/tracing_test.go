package tracing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
	"github.com/gatehouse-dev/gatehouse/pkg/tracing/tracingtest"
)

// start returns Tracing exporting to r with short batches.
func start(t *testing.T, endpoint string, percent float64) *tracing.Tracing {
	t.Helper()
	tr, err := tracing.New(tracing.Options{Endpoint: endpoint, SamplePercent: percent, BatchTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tr.Shutdown(ctx)
	})
	return tr
}

func TestExportToRealReceiver(t *testing.T) {
	r := tracingtest.Start(t)
	tr := start(t, r.Addr, 100)
	_, span := tracing.Tracer(tr.Provider(), "test").Start(context.Background(), "root")
	span.SetAttributes(attribute.String("k", "v"))
	span.End()
	got, took := r.WaitFor(t, 20*time.Second, 1, tracingtest.Named("root"))
	t.Logf("span arrived after %v", took)
	s := got[0]
	if s.Service != tracing.DefaultServiceName || s.Attributes["k"] != "v" || s.ParentSpanID != "" || s.TraceID != span.SpanContext().TraceID().String() {
		t.Errorf("received %+v", s)
	}
}

func TestOffIsNil(t *testing.T) {
	tr, err := tracing.New(tracing.Options{})
	if err != nil || tr != nil || tr.Provider() != nil || tr.Shutdown(context.Background()) != nil {
		t.Fatalf("New without an endpoint: %v, %v", tr, err)
	}
	if tracing.Tracer(nil, "x") != nil {
		t.Error("a nil provider gives a tracer")
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []tracing.Options{
		{Endpoint: "127.0.0.1:4317", SamplePercent: -1},
		{Endpoint: "127.0.0.1:4317", SamplePercent: 100.5},
		{Endpoint: "localhost"},
		{Endpoint: "grpc://localhost:4317"},
		{Endpoint: "http://localhost:4317/v1/traces"},
	} {
		if _, err := tracing.New(o); err == nil {
			t.Errorf("%+v accepted", o)
		} else if !strings.Contains(err.Error(), "percent") && !strings.Contains(err.Error(), "OTLP endpoint") {
			t.Errorf("%+v: unclear error %v", o, err)
		}
	}
}

func TestIncomingPrefersCallMetadata(t *testing.T) {
	const envoy = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	const client = "00-11111111111111111111111111111111-2222222222222222-01"
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", envoy))
	sc := trace.SpanContextFromContext(tracing.Incoming(ctx, map[string]string{"traceparent": client}))
	if sc.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || sc.SpanID().String() != "b7ad6b7169203331" || !sc.IsRemote() {
		t.Errorf("from metadata: %v", sc)
	}
	sc = trace.SpanContextFromContext(tracing.Incoming(context.Background(), map[string]string{"traceparent": client}))
	if sc.TraceID().String() != "11111111111111111111111111111111" {
		t.Errorf("from headers: %v", sc)
	}
	// Malformed: W3C says start afresh.
	for _, bad := range []string{"garbage", "00-00000000000000000000000000000000-2222222222222222-01", "ff-11111111111111111111111111111111-2222222222222222-01"} {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", bad))
		if sc := trace.SpanContextFromContext(tracing.Incoming(ctx, map[string]string{"traceparent": bad})); sc.IsValid() {
			t.Errorf("%q gave %v", bad, sc)
		}
	}
}
