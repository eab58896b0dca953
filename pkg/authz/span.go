package authz

import (
	"context"
	"strconv"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
)

// TracerName is the instrumentation scope of the decision spans.
const TracerName = "github.com/gatehouse-dev/gatehouse/pkg/authz"

// SpanName names the span of one Check.
const SpanName = "gatehouse.authz.Check"

// Span attributes of a decision. Only what the Decision log holds, which by
// design is no credential: never a header value, the query string, the
// body or a Reason (a reason may quote what the client sent).
const (
	AttrDecisionID      = "gatehouse.decision_id"
	AttrEngine          = "gatehouse.authz.engine"
	AttrOutcome         = "gatehouse.authz.outcome" // allow | deny
	AttrStatus          = "gatehouse.authz.status"  // HTTP status sent (200 when allowed)
	AttrFailedOpen      = "gatehouse.authz.failed_open"
	AttrGateway         = "gatehouse.gateway"
	AttrRoute           = "gatehouse.route"
	AttrPolicy          = "gatehouse.authz.policy"
	AttrConsumer        = "gatehouse.consumer"
	AttrAuthenticatedBy = "gatehouse.authz.authenticated_by"
)

// startSpan continues the trace Envoy propagates (the call's metadata, else
// the request's own traceparent header).
func (s *Service) startSpan(ctx context.Context, req *authv3.CheckRequest) (context.Context, trace.Span) {
	ctx = tracing.Incoming(ctx, req.GetAttributes().GetRequest().GetHttp().GetHeaders())
	return s.tracer.Start(ctx, SpanName, trace.WithSpanKind(trace.SpanKindServer))
}

func endSpan(span trace.Span, d *Decision) {
	if span.IsRecording() {
		engine := d.Engine
		if engine == "" {
			engine = "none" // no Rego ran: identity or group rules decided
		}
		outcome := "deny"
		if d.Allowed {
			outcome = "allow"
		}
		span.SetAttributes(
			attribute.String(AttrDecisionID, d.ID),
			attribute.String(AttrEngine, engine),
			attribute.String(AttrOutcome, outcome),
			attribute.Int(AttrStatus, d.Status),
			attribute.String(AttrGateway, d.Gateway),
			attribute.String(AttrRoute, d.Route),
			attribute.String(AttrConsumer, d.Consumer),
		)
		if d.Policy != "" {
			span.SetAttributes(attribute.String(AttrPolicy, d.Policy))
		}
		if d.AuthenticatedBy != "" {
			span.SetAttributes(attribute.String(AttrAuthenticatedBy, d.AuthenticatedBy))
		}
		if d.FailedOpen {
			span.SetAttributes(attribute.Bool(AttrFailedOpen, true))
			span.SetStatus(codes.Error, "policy evaluation failed; allowed by failOpen")
		}
		if d.Status >= 500 {
			span.SetStatus(codes.Error, "status "+strconv.Itoa(d.Status))
		}
	}
	span.End()
}
