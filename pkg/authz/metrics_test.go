package authz

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Decisions are counted per Authorization, outcome and engine, an unknown
// Authorization name under one label, and every decision is timed.
func TestDecisionMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	cfg := regoConfig()
	cfg.Policies["vars"] = Policy{Modules: map[string]string{"p.rego": rbacPolicy}, Query: "x := data.envoy.authz.allow"}
	if err := s.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	key := map[string]string{"x-api-key": testKey}
	for _, r := range []req{
		{path: "/orders", headers: key, ext: ext("r", "partner-keys", "rbac")},                   // allow, ir
		{method: "DELETE", path: "/orders", headers: key, ext: ext("r", "partner-keys", "rbac")}, // deny, ir
		{path: "/orders", headers: key, ext: ext("r", "partner-keys", "vars")},                   // allow, topdown
		{path: "/orders", headers: key, ext: ext("r", "partner-keys", "no-such-policy")},         // deny, none
		{path: "/orders", headers: key, ext: ext("r", "partner-keys", "")},                       // allow, none
	} {
		check(t, s, r.build(t))
	}
	want := `
# HELP gatehouse_authz_decisions_total ext_authz decisions per Authorization ("" for routes with authentication only), decision (allow, deny) and engine (ir, topdown, none when no Rego ran).
# TYPE gatehouse_authz_decisions_total counter
gatehouse_authz_decisions_total{authorization="",decision="allow",engine="none"} 1
gatehouse_authz_decisions_total{authorization="(unknown)",decision="deny",engine="none"} 1
gatehouse_authz_decisions_total{authorization="rbac",decision="allow",engine="ir"} 1
gatehouse_authz_decisions_total{authorization="rbac",decision="deny",engine="ir"} 1
gatehouse_authz_decisions_total{authorization="vars",decision="allow",engine="topdown"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_authz_decisions_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "gatehouse_authz_decision_duration_seconds"); n != 1 {
		t.Errorf("%d latency series, want 1", n)
	}
}
