package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/tracing/tracingtest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/xds/server"
)

// A policy change is one trace: store -> build -> publish, and the proxy's
// ACK of what was published as a child of the publish span, all exported by
// `gatehouse serve --otlp-endpoint` to a real OTLP receiver.
func TestPolicyChangeIsATrace(t *testing.T) {
	rcv := tracingtest.Start(t)
	dir := t.TempDir()
	for _, f := range []string{"gateway.yaml", "routes.yaml", "services.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := startGatehouse(t, dir, "--otlp-endpoint", rcv.Addr, "--trace-sample-percent", "100")

	ads := gatehouseproc.OpenADS(t, g.XDSAddr)
	node := &corev3.Node{Id: "trace-node", Cluster: "public", UserAgentName: "envoy"}
	responses := gatehouseproc.Responses(ads, 4)
	ackNext := func() *discoveryv3.DiscoveryResponse {
		t.Helper()
		select {
		case r, ok := <-responses:
			if !ok {
				t.Fatal("ADS stream ended")
			}
			if err := ads.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ListenerType, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce}); err != nil {
				t.Fatal(err)
			}
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("no LDS response within 30s")
		}
		return nil
	}
	if err := ads.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ListenerType}); err != nil {
		t.Fatal(err)
	}
	first := ackNext()
	trace1 := checkChangeTrace(t, rcv, first.VersionInfo)

	// The change: the listener moves to another port.
	b, _ := os.ReadFile(filepath.Join(dir, "gateway.yaml"))
	changed := strings.Replace(string(b), "port: 8080", "port: 8081", 1)
	if changed == string(b) {
		t.Fatal("quickstart gateway.yaml has no port 8080")
	}
	writePolicy(t, dir, map[string]string{"gateway.yaml": changed})
	second := ackNext()
	if second.VersionInfo == first.VersionInfo {
		t.Fatalf("LDS version unchanged after the edit: %s", second.VersionInfo)
	}
	trace2 := checkChangeTrace(t, rcv, second.VersionInfo)
	if trace1 == trace2 {
		t.Errorf("two changes share trace %s", trace1)
	}
}

// checkChangeTrace waits for the ACK span of LDS version and checks that
// its trace holds the change's spans, linked parent to child; it returns
// the trace id.
func checkChangeTrace(t *testing.T, rcv *tracingtest.Receiver, version string) string {
	t.Helper()
	acks, took := rcv.WaitFor(t, 30*time.Second, 1, func(s tracingtest.Span) bool {
		return s.Name == server.SpanAck && s.Attributes[server.AttrVersion] == version && s.Attributes[server.AttrType] == server.TypeListeners
	})
	ack := acks[0]
	t.Logf("ACK span of version %s arrived after %v", version, took)
	if ack.Attributes[server.AttrNode] != "trace-node" || ack.Attributes[server.AttrGateway] != "public" || ack.EndNs < ack.StartNs {
		t.Errorf("ACK span %v", ack)
	}
	// The other spans of the trace end before the ACK span; wait for them.
	spans, _ := rcv.WaitFor(t, 30*time.Second, 4, func(s tracingtest.Span) bool {
		return s.TraceID == ack.TraceID && s.Name != server.SpanAck
	})
	by := map[string]tracingtest.Span{}
	for _, s := range spans {
		by[s.Name] = s
	}
	root, load, build, publish := by[controller.SpanChange], by[controller.SpanLoad], by[controller.SpanBuild], by[controller.SpanPublish]
	switch {
	case root.SpanID == "" || root.ParentSpanID != "":
		t.Errorf("no root %s in trace %s: %v", controller.SpanChange, ack.TraceID, spans)
	case load.ParentSpanID != root.SpanID || build.ParentSpanID != root.SpanID || publish.ParentSpanID != root.SpanID:
		t.Errorf("store, build and publish are not children of the change: %v", spans)
	case ack.ParentSpanID != publish.SpanID:
		t.Errorf("ACK span's parent %s is not the publish span %s", ack.ParentSpanID, publish.SpanID)
	case root.Attributes[controller.AttrOutcome] != "published" || root.Attributes[controller.AttrPolicy] != "true":
		t.Errorf("root span %v", root)
	// A proxy may ACK before Publish has returned (the fan-out is part of
	// the publish span), so the ACK is held only to start after the publish.
	case !(load.EndNs <= build.StartNs && build.EndNs <= publish.StartNs && publish.StartNs <= ack.StartNs && ack.StartNs <= ack.EndNs):
		t.Errorf("spans out of order: store %v, build %v, publish %v, ack %v", load, build, publish, ack)
	}
	return ack.TraceID
}
