package translate

import (
	"strings"
	"testing"
)

// Check refuses a tracer whose collector cluster is missing (spans would
// be dropped while tracing looks configured), for both providers.
func TestCheckTracerCluster(t *testing.T) {
	groups := translateCase(t, "tracing", Options{})
	for _, tc := range []struct{ gw, cluster, want string }{
		{"edge", "svc/otel-collector", `tracer envoy.tracers.opentelemetry: cluster "svc/otel-collector" does not exist`},
		{"legacy", "svc/zipkin", `tracer envoy.tracers.zipkin: cluster "svc/zipkin" does not exist`},
	} {
		g := groups[GroupKey{tc.gw, ClientEnvoy}]
		if err := Check(cloneGroup(g), clasOf(g)); err != nil {
			t.Fatalf("%s: %v", tc.gw, err)
		}
		bad := withoutCluster(cloneGroup(g), tc.cluster)
		if err := Check(bad, clasOf(bad)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Check: %v; want an error containing %q", tc.gw, err, tc.want)
		}
	}
	// Proxyless clients get no tracing and no collector cluster.
	if g := groups[GroupKey{"edge", ClientGRPC}]; g != nil {
		for _, c := range g.Clusters {
			if n := c.(named).GetName(); n == "svc/otel-collector" {
				t.Errorf("proxyless group has the collector cluster %s", n)
			}
		}
	}
}

// Tags are literals: no tag reads a request header, so a client cannot
// put a credential into a span through them.
func TestTracingTagsAreLiterals(t *testing.T) {
	g := translateCase(t, "tracing", Options{})[GroupKey{"edge", ClientEnvoy}]
	hs := hcmsOf(t, g)
	if len(hs) == 0 {
		t.Fatal("no connection manager")
	}
	tr := hs[0].GetTracing()
	if len(tr.GetCustomTags()) != 2 {
		t.Fatalf("tags: %v", tr.GetCustomTags())
	}
	for _, ct := range tr.GetCustomTags() {
		if ct.GetLiteral() == nil {
			t.Errorf("tag %s is not a literal: %v", ct.GetTag(), ct)
		}
	}
	if tr.GetRandomSampling().GetValue() != 25 {
		t.Errorf("random sampling %v, want 25", tr.GetRandomSampling())
	}
}
