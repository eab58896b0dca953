package server

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// SpanAck is the span of one proxy accepting one published version of one
// type: it starts when the version was published and ends at the ACK, a
// child of the control-plane change's publish span.
const SpanAck = "gatehouse.config.ack"

// Attributes of an ACK span.
const (
	AttrNode    = "gatehouse.xds.node"
	AttrGateway = "gatehouse.gateway"
	AttrClient  = "gatehouse.xds.client"
	AttrType    = "gatehouse.xds.type"
	AttrVersion = "gatehouse.xds.version"
)

// Bounds of AckTracer: versions waiting for ACKs, how long one waits, and
// how many proxies' ACKs of one version become spans. A fleet of thousands
// gets a sample, not a span each.
const (
	ackMaxPending  = 4096
	ackWait        = 10 * time.Minute
	ackMaxPerIssue = 64
)

// AckTracer turns proxies' ACKs of published versions into spans of the
// trace of the change that published them. Create it with NewAckTracer,
// call Published after every publish (controller.Config.OnPublished) and
// give it to the server (Options.Acks).
type AckTracer struct {
	tracer trace.Tracer
	pub    *Publisher

	mu      sync.Mutex
	pending map[ackKey]*pendingAck
}

type ackKey struct {
	group   translate.GroupKey
	ti      typeIdx
	version string
}

type pendingAck struct {
	parent    trace.SpanContext
	published time.Time
	nodes     map[string]bool // nodes whose ACK made a span
}

// NewAckTracer returns nil (no ACK spans) when tp is nil.
func NewAckTracer(tp trace.TracerProvider, pub *Publisher) *AckTracer {
	t := tracing.Tracer(tp, "github.com/gatehouse-dev/gatehouse/xds/server")
	if t == nil || pub == nil {
		return nil
	}
	return &AckTracer{tracer: t, pub: pub, pending: map[ackKey]*pendingAck{}}
}

// Published notes the versions a publish set, under the span in ctx.
func (a *AckTracer) Published(ctx context.Context, stats PublishStats) {
	if a == nil {
		return
	}
	parent := trace.SpanContextFromContext(ctx)
	if !parent.IsSampled() {
		return
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, p := range a.pending {
		if now.Sub(p.published) > ackWait {
			delete(a.pending, k)
		}
	}
	for g := range stats.Changed {
		snap, ok := a.pub.Snapshot(g)
		if !ok {
			continue
		}
		for ti := range typeURLs {
			v := snap.GetVersion(typeURLs[ti])
			k := ackKey{g, typeIdx(ti), v}
			if v == "" || a.pending[k] != nil || len(a.pending) >= ackMaxPending {
				continue // unchanged types keep their first publish's span
			}
			a.pending[k] = &pendingAck{parent: parent, published: now, nodes: map[string]bool{}}
		}
	}
}

// acked is called by the tracker for every ACK; it must not block.
func (a *AckTracer) acked(g translate.GroupKey, ti typeIdx, version, node string) {
	if a == nil {
		return
	}
	now := time.Now()
	a.mu.Lock()
	p := a.pending[ackKey{g, ti, version}]
	if p == nil || p.nodes[node] || len(p.nodes) >= ackMaxPerIssue || now.Sub(p.published) > ackWait {
		a.mu.Unlock()
		return
	}
	p.nodes[node] = true
	parent, published := p.parent, p.published
	a.mu.Unlock()
	ctx := trace.ContextWithSpanContext(context.Background(), parent)
	_, s := a.tracer.Start(ctx, SpanAck, trace.WithTimestamp(published), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(AttrNode, node), attribute.String(AttrGateway, g.Gateway),
			attribute.String(AttrClient, string(g.Client)), attribute.String(AttrType, typeNames[ti]),
			attribute.String(AttrVersion, version)))
	s.End(trace.WithTimestamp(now))
}
