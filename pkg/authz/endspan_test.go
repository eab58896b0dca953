package authz

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestEndSpanAttributesAndStatus: what a decision's span says, checked on
// the span itself (the OTLP tests check it through a real receiver): the
// optional attributes only when set, "none" when no engine ran, and an
// error status from 500 up or when failOpen allowed, never below.
func TestEndSpanAttributesAndStatus(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("test")
	cases := []struct {
		name   string
		d      Decision
		attrs  map[attribute.Key]attribute.Value
		absent []attribute.Key
		status codes.Code
	}{
		{"allowed by a key", Decision{ID: "d1", Allowed: true, Status: 200, Engine: "regovm", Gateway: "gw", Route: "r", Consumer: "acme", AuthenticatedBy: "keys", Policy: "p"},
			map[attribute.Key]attribute.Value{AttrOutcome: attribute.StringValue("allow"), AttrEngine: attribute.StringValue("regovm"), AttrAuthenticatedBy: attribute.StringValue("keys"),
				AttrPolicy: attribute.StringValue("p"), AttrStatus: attribute.IntValue(200), AttrConsumer: attribute.StringValue("acme"), AttrDecisionID: attribute.StringValue("d1")},
			[]attribute.Key{AttrFailedOpen}, codes.Unset},
		{"denied by group rules, 499", Decision{Status: 499},
			map[attribute.Key]attribute.Value{AttrOutcome: attribute.StringValue("deny"), AttrEngine: attribute.StringValue("none"), AttrStatus: attribute.IntValue(499)},
			[]attribute.Key{AttrAuthenticatedBy, AttrPolicy, AttrFailedOpen}, codes.Unset},
		{"500", Decision{Status: 500, Engine: "topdown"},
			map[attribute.Key]attribute.Value{AttrStatus: attribute.IntValue(500)}, nil, codes.Error},
		{"failed open", Decision{Allowed: true, Status: 200, FailedOpen: true, Engine: "topdown"},
			map[attribute.Key]attribute.Value{AttrFailedOpen: attribute.BoolValue(true), AttrOutcome: attribute.StringValue("allow")}, nil, codes.Error},
	}
	for _, tc := range cases {
		_, span := tracer.Start(context.Background(), tc.name)
		endSpan(span, &tc.d)
	}
	ended := rec.Ended()
	if len(ended) != len(cases) {
		t.Fatalf("%d spans ended, want %d", len(ended), len(cases))
	}
	for i, tc := range cases {
		s := ended[i]
		got := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			got[kv.Key] = kv.Value
		}
		for k, want := range tc.attrs {
			if v, ok := got[k]; !ok || v != want {
				t.Errorf("%s: %s = %v (set %v), want %v", tc.name, k, v.Emit(), ok, want.Emit())
			}
		}
		for _, k := range tc.absent {
			if v, ok := got[k]; ok {
				t.Errorf("%s: %s = %v, want it absent", tc.name, k, v.Emit())
			}
		}
		if s.Status().Code != tc.status {
			t.Errorf("%s: span status %v, want %v", tc.name, s.Status().Code, tc.status)
		}
	}
}
