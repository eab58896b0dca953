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
	// early holds ACKs of versions not yet noted by Published: the
	// controller calls Published after Publish returns, and a proxy may
	// have been sent the version and ACKed it by then (a loaded machine
	// makes that common). Published turns them into spans.
	early map[ackKey]map[string]time.Time
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
	return &AckTracer{tracer: t, pub: pub, pending: map[ackKey]*pendingAck{}, early: map[ackKey]map[string]time.Time{}}
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
	a.pruneEarly(now)
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
			p := &pendingAck{parent: parent, published: now, nodes: map[string]bool{}}
			a.pending[k] = p
			for node, at := range a.early[k] {
				if len(p.nodes) < ackMaxPerIssue {
					p.nodes[node] = true
					// The ACK came before this call, while Publish
					// was still fanning out: the span marks the ACK's
					// moment (when the proxy was sent the version is
					// not known here).
					a.span(k, node, parent, at, at)
				}
			}
			delete(a.early, k)
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
	k := ackKey{g, ti, version}
	p := a.pending[k]
	if p == nil {
		a.noteEarly(k, node, now)
		a.mu.Unlock()
		return
	}
	if p.nodes[node] || len(p.nodes) >= ackMaxPerIssue || now.Sub(p.published) > ackWait {
		a.mu.Unlock()
		return
	}
	p.nodes[node] = true
	parent, published := p.parent, p.published
	a.mu.Unlock()
	a.span(k, node, parent, published, now)
}

// span records one ACK span.
func (a *AckTracer) span(k ackKey, node string, parent trace.SpanContext, start, end time.Time) {
	ctx := trace.ContextWithSpanContext(context.Background(), parent)
	_, s := a.tracer.Start(ctx, SpanAck, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(AttrNode, node), attribute.String(AttrGateway, k.group.Gateway),
			attribute.String(AttrClient, string(k.group.Client)), attribute.String(AttrType, typeNames[k.ti]),
			attribute.String(AttrVersion, k.version)))
	s.End(trace.WithTimestamp(end))
}

// ackEarlyWait is how long an ACK waits for its version's Published call.
const ackEarlyWait = time.Minute

// noteEarly keeps an ACK of a version Published has not noted yet, within
// the same bounds as the pending versions. Called with a.mu held.
func (a *AckTracer) noteEarly(k ackKey, node string, now time.Time) {
	if a.early[k] == nil {
		if len(a.early) >= ackMaxPending {
			a.pruneEarly(now)
			if len(a.early) >= ackMaxPending {
				return
			}
		}
		a.early[k] = map[string]time.Time{}
	}
	if len(a.early[k]) < ackMaxPerIssue {
		a.early[k][node] = now
	}
}

// pruneEarly drops early ACKs whose version was never noted (not sampled,
// or not a change). Called with a.mu held.
func (a *AckTracer) pruneEarly(now time.Time) {
	for k, nodes := range a.early {
		for node, at := range nodes {
			if now.Sub(at) > ackEarlyWait {
				delete(nodes, node)
			}
		}
		if len(nodes) == 0 {
			delete(a.early, k)
		}
	}
}
