package server

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// A proxy can ACK a version before the controller's Published call for it
// (Publish fans out before it returns; on a loaded machine that is common).
// Such an ACK still becomes a span of the change's trace, once, and an ACK
// of a version never noted leaves nothing behind after its wait.
func TestAckBeforePublishedIsTraced(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	pub, err := NewPublisher(PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAckTracer(tp, pub)
	f := newFixture("gw", translate.ClientEnvoy, 3, 2)
	stats := mustPublish(t, pub, f.groups(), f.clas)
	k := translate.GroupKey{Gateway: "gw", Client: translate.ClientEnvoy}
	snap, ok := pub.Snapshot(k)
	if !ok {
		t.Fatal("no snapshot")
	}
	v := snap.GetVersion(typeURLs[tListeners])

	// The ACK arrives first, twice (a resent ACK), then Published.
	a.acked(k, tListeners, v, "early-node")
	a.acked(k, tListeners, v, "early-node")
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans before Published, want 0", n)
	}
	ctx, root := tp.Tracer("test").Start(context.Background(), "publish")
	a.Published(ctx, stats)
	root.End()
	var acks []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == SpanAck {
			acks = append(acks, s)
		}
	}
	if len(acks) != 1 {
		t.Fatalf("%d ACK spans, want 1 (the early ACK, once)", len(acks))
	}
	s := acks[0]
	if s.Parent().SpanID() != root.SpanContext().SpanID() || s.SpanContext().TraceID() != root.SpanContext().TraceID() {
		t.Fatalf("ACK span not a child of the publish span")
	}
	attrs := map[string]string{}
	for _, kv := range s.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs[AttrNode] != "early-node" || attrs[AttrVersion] != v || attrs[AttrType] != typeNames[tListeners] {
		t.Fatalf("ACK span attributes %v", attrs)
	}
	// The same node ACKing again after Published adds nothing.
	a.acked(k, tListeners, v, "early-node")
	if n := len(rec.Ended()); n != 2 {
		t.Fatalf("%d spans after a repeated ACK, want 2", n)
	}

	// An ACK of a version Published never notes is kept only within the
	// bounds, and Published drops it once its wait is over.
	a.acked(k, tListeners, "never-published", "n")
	a.mu.Lock()
	if len(a.early) != 1 {
		a.mu.Unlock()
		t.Fatalf("early ACKs %d, want 1", len(a.early))
	}
	for _, nodes := range a.early {
		for node := range nodes {
			nodes[node] = nodes[node].Add(-2 * ackEarlyWait)
		}
	}
	a.mu.Unlock()
	a.Published(ctx, PublishStats{})
	a.mu.Lock()
	left := len(a.early)
	a.mu.Unlock()
	if left != 0 {
		t.Fatalf("early ACKs after their wait %d, want 0", left)
	}
}
