package ratelimit

import (
	"context"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
)

// TracerName is the instrumentation scope of the decision spans.
const TracerName = "github.com/gatehouse-dev/gatehouse/pkg/ratelimit"

// SpanName names the span of one ShouldRateLimit.
const SpanName = "gatehouse.ratelimit.ShouldRateLimit"

// Span attributes of a rate-limit decision. Descriptor values are never
// recorded: they are whatever the request carried (a header, a client
// address, a consumer), and a header may be a credential.
const (
	AttrDecisionID  = "gatehouse.decision_id"
	AttrEngine      = "gatehouse.ratelimit.engine"  // memory | redis
	AttrOutcome     = "gatehouse.ratelimit.outcome" // ok | over_limit | error
	AttrDomain      = "gatehouse.ratelimit.domain"
	AttrDescriptors = "gatehouse.ratelimit.descriptors" // how many the request carried
)

func (s *Service) startSpan(ctx context.Context) (context.Context, trace.Span) {
	// A RateLimitRequest carries no request headers: the call's metadata
	// is the only trace context.
	ctx = tracing.Incoming(ctx, nil)
	return s.tracer.Start(ctx, SpanName, trace.WithSpanKind(trace.SpanKindServer))
}

func (s *Service) endSpan(span trace.Span, req *rlsv3.RateLimitRequest, resp *rlsv3.RateLimitResponse, err error) {
	if span.IsRecording() {
		outcome := "ok"
		switch {
		case err != nil:
			outcome = "error"
			span.SetStatus(codes.Error, err.Error())
		case resp.GetOverallCode() == rlsv3.RateLimitResponse_OVER_LIMIT:
			outcome = "over_limit"
		}
		span.SetAttributes(
			// The span's own id names the decision: the rate-limit
			// service keeps no decision log of its own.
			attribute.String(AttrDecisionID, span.SpanContext().SpanID().String()),
			attribute.String(AttrEngine, s.engine()),
			attribute.String(AttrOutcome, outcome),
			attribute.String(AttrDomain, req.GetDomain()),
			attribute.Int(AttrDescriptors, len(req.GetDescriptors())),
		)
	}
	span.End()
}

func (s *Service) engine() string {
	switch s.store.(type) {
	case *MemoryStore:
		return "memory"
	case *RedisStore:
		return "redis"
	}
	return "other"
}
