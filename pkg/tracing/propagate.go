package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// w3c is W3C trace context (traceparent, tracestate): what Envoy's
// OpenTelemetry tracer propagates (docs/tracing.md).
var w3c = propagation.TraceContext{}

// Incoming returns ctx carrying the remote parent of a gRPC call Envoy
// made: the traceparent in the call's metadata, which Envoy's gRPC client
// sets from its own span for the call (source/common/grpc/async_client_impl.cc:
// AsyncRequestImpl spawns a child of the request's span and injects it into
// the call's initial metadata, onCreateInitialMetadata). Failing that, the
// traceparent among headers (the HTTP request's, as an ext_authz
// CheckRequest carries them), so that a request traced by its client but not
// by Envoy still joins the client's trace. A malformed traceparent is
// ignored (W3C: start a new trace).
func Incoming(ctx context.Context, headers map[string]string) context.Context {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if c := w3c.Extract(ctx, mdCarrier(md)); trace.SpanContextFromContext(c).IsValid() {
			return c
		}
	}
	if len(headers) > 0 {
		return w3c.Extract(ctx, propagation.MapCarrier(headers))
	}
	return ctx
}

// mdCarrier reads gRPC metadata (keys are lower case, as W3C's are).
type mdCarrier metadata.MD

func (m mdCarrier) Get(key string) string {
	if v := metadata.MD(m).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
func (m mdCarrier) Set(key, value string) { metadata.MD(m).Set(key, value) }
func (m mdCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
