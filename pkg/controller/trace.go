package controller

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName is the instrumentation scope of the control-plane trace.
const TracerName = "github.com/gatehouse-dev/gatehouse/pkg/controller"

// Spans of one control-plane change: the root and its children, in order.
// The proxies' ACKs of what was published join as children of SpanPublish
// (see Config.OnPublished; span name server.SpanAck).
const (
	SpanChange  = "gatehouse.config.change"
	SpanLoad    = "gatehouse.config.store"   // loading and validating the policy store
	SpanBuild   = "gatehouse.config.build"   // translating, checking, endpoints, service rules
	SpanPublish = "gatehouse.config.publish" // services' rules and the proxies' snapshots
)

// Attributes of the control-plane spans.
const (
	AttrPolicy   = "gatehouse.config.policy_changed"
	AttrRegistry = "gatehouse.config.registry_changed"
	AttrRejected = "gatehouse.config.rejected_objects"
	AttrGroups   = "gatehouse.config.groups"
	AttrChanged  = "gatehouse.config.groups_changed"
	AttrOutcome  = "gatehouse.config.outcome" // published | not_published
)

var noSpan = noop.Span{}

// span starts a span when tracing is on; otherwise it returns ctx and a
// no-op span, at no cost.
func (c *Controller) span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if c.tracer == nil {
		return ctx, noSpan
	}
	return c.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

func endSpan(s trace.Span, ok bool) {
	if s.IsRecording() {
		outcome := "published"
		if !ok {
			outcome = "not_published"
		}
		s.SetAttributes(attribute.String(AttrOutcome, outcome))
	}
	s.End()
}

// failSpan ends s as failed at stage. The error's text stays out of the
// span (it is in the log and /api/v1/status): a validation error may quote
// a field's value, and a misplaced API key in a policy file is a value.
func failSpan(s trace.Span, stage string) {
	s.SetStatus(codes.Error, "build failed at stage "+stage+": see gatehouse status")
	endSpan(s, false)
}
