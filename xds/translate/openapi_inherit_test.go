package translate

import (
	"strings"
	"testing"
	"testing/fstest"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// openAPIRouteConfig is what route r does with the validation filter:
// the validation it names ("" when it names none) and whether the filter
// is disabled there.
func openAPIRouteConfig(t *testing.T, r *routev3.Route) (name string, disabled bool, mode *extprocv3.ProcessingMode) {
	t.Helper()
	a := r.GetTypedPerFilterConfig()[wire.FilterOpenAPI]
	if a == nil {
		return "", false, nil
	}
	pr := &extprocv3.ExtProcPerRoute{}
	if err := a.UnmarshalTo(pr); err != nil {
		t.Fatal(err)
	}
	if pr.GetDisabled() {
		return "", true, nil
	}
	for _, h := range pr.GetOverrides().GetGrpcInitialMetadata() {
		if h.GetKey() == wire.OpenAPIPolicyMetadataKey {
			name = h.GetValue()
		}
	}
	return name, false, pr.GetOverrides().GetProcessingMode()
}

// TestOpenAPIInheritedFromService: in the openapi-service case, every
// Route to the validated Services names its validation on its route
// (the split, and a second Route to the same Service), a Route's own
// block wins (its response mode), {mode: off} and a Route to an
// unvalidated Service disable the filter. The attacker's check: every
// Envoy route that sends to a validated Service's cluster runs
// validation, unless its policy Route turned it off explicitly.
func TestOpenAPIInheritedFromService(t *testing.T) {
	snap, _ := loadCase(t, "testdata/in/openapi-service")
	g := checkedEdge(t, "openapi-service")
	want := map[string]string{"petstore": "Route/petstore", "petstore-admin": "Route/petstore-admin", "petstore-beta": "Route/petstore-beta", "petstore-raw": "", "site": ""}
	seen := map[string]bool{}
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				name, disabled, mode := openAPIRouteConfig(t, r)
				seen[r.GetName()] = true
				if w, ok := want[r.GetName()]; !ok || name != w || disabled != (w == "") {
					t.Errorf("route %s: validation %q (disabled %v), want %q", r.GetName(), name, disabled, w)
				}
				if r.GetName() == "petstore-beta" && !upgradeMatchOnly(r.GetMatch()) && mode.GetResponseBodyMode() != extprocv3.ProcessingMode_STREAMED {
					t.Errorf("petstore-beta: its own block's response validation is not applied: %v", mode)
				}
				if r.GetName() == "petstore" && mode.GetResponseHeaderMode() != extprocv3.ProcessingMode_SKIP {
					t.Errorf("petstore: the Service's validation asks for no responses, got %v", mode)
				}
				pr := snap.Routes[r.GetName()]
				if pr == nil || pr.Spec.Validation.Off() {
					continue
				}
				for _, c := range routeClusters(r) {
					s := snap.Services[strings.TrimPrefix(c, "svc/")]
					if s != nil && s.Spec.Validation != nil && name == "" {
						t.Errorf("route %s sends to %s, which carries validation, without validating", r.GetName(), c)
					}
				}
			}
		}
	}
	for n := range want {
		if !seen[n] {
			t.Errorf("route %s missing", n)
		}
	}
}

func routeClusters(r *routev3.Route) []string {
	ra := r.GetRoute()
	if c := ra.GetCluster(); c != "" {
		return []string{c}
	}
	var out []string
	for _, wc := range ra.GetWeightedClusters().GetClusters() {
		out = append(out, wc.GetName())
	}
	return out
}

// TestOpenAPIInheritedDisagreement: a hand-built Snapshot (Load refuses
// this) whose split names Services that validate differently fails the
// translation instead of picking one document or none.
func TestOpenAPIInheritedDisagreement(t *testing.T) {
	snap, _ := loadCase(t, "testdata/in/openapi-service")
	r := *snap.Routes["petstore"]
	r.Spec.Backends = []policy.Backend{{Service: "pets"}, {Service: "web"}}
	snap.Routes["petstore"] = &r
	if _, err := Translate(snap, Options{}); err == nil || !strings.Contains(err.Error(), "Route/petstore: spec.backends[1].service: Service/web has no validation") {
		t.Fatalf("Translate = %v, want the disagreement refused", err)
	}
}

// TestOpenAPIOnlyPolicy: a Gateway whose only policy is request
// validation (a Route's own or inherited, nothing else on any Route)
// translates and passes Check.
func TestOpenAPIOnlyPolicy(t *testing.T) {
	doc := fstest.MapFS{}
	base := "kind: Gateway\nname: edge\nspec:\n  listeners: [{name: http, port: 8080, protocol: HTTP}]\n---\n"
	for name, pol := range map[string]string{
		"route":   "kind: Service\nname: s\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 9001}]}\n---\nkind: Route\nname: r\nspec:\n  gateways: [edge]\n  backends: [{service: s}]\n  validation: {openapi: api.yaml}\n",
		"service": "kind: Service\nname: s\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 9001}]}\n  validation: {openapi: api.yaml}\n---\nkind: Route\nname: r\nspec:\n  gateways: [edge]\n  backends: [{service: s}]\n",
	} {
		doc["p.yaml"] = &fstest.MapFile{Data: []byte(base + pol)}
		doc["api.yaml"] = &fstest.MapFile{Data: []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n")}
		snap := policy.Load(doc, nil)
		if errs := snap.Errors(); len(errs) > 0 {
			t.Fatalf("%s: %v", name, errs)
		}
		groups, err := Translate(snap, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g := groups[GroupKey{"edge", ClientEnvoy}]
		if err := Check(cloneGroup(g), clasOf(g)); err != nil {
			t.Fatalf("%s: Check: %v", name, err)
		}
		rt := g.Routes[0].(*routev3.RouteConfiguration).GetVirtualHosts()[0].GetRoutes()[0]
		if n, _, _ := openAPIRouteConfig(t, rt); n != "Route/r" {
			t.Errorf("%s: route validation %q, want Route/r", name, n)
		}
	}
}

// TestOpenAPIInheritedMemo: with a Memo carried over from a Translate of
// the same Routes, adding validation to a Service (only the Service
// changes) puts it on every Route to that Service, and removing it takes
// it off: a Route's reused protos never keep a stale validation.
func TestOpenAPIInheritedMemo(t *testing.T) {
	svc := "kind: Service\nname: s\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 9001}]}\n"
	pol := func(service string) *policy.Snapshot {
		snap := policy.Load(fstest.MapFS{
			"p.yaml":   {Data: []byte("kind: Gateway\nname: edge\nspec:\n  listeners: [{name: http, port: 8080, protocol: HTTP}]\n---\n" + service + "---\nkind: Route\nname: r\nspec:\n  gateways: [edge]\n  backends: [{service: s}]\n")},
			"api.yaml": {Data: []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n")},
		}, nil)
		if errs := snap.Errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
		return snap
	}
	memo := NewMemo()
	for i, c := range []struct {
		service, want string
	}{
		{svc, ""},
		{svc + "  validation: {openapi: api.yaml}\n", "Route/r"},
		{svc, ""},
	} {
		groups, err := Translate(pol(c.service), Options{Memo: memo})
		if err != nil {
			t.Fatal(err)
		}
		rt := groups[GroupKey{"edge", ClientEnvoy}].Routes[0].(*routev3.RouteConfiguration).GetVirtualHosts()[0].GetRoutes()[0]
		if n, _, _ := openAPIRouteConfig(t, rt); n != c.want {
			t.Errorf("step %d: route validation %q, want %q", i, n, c.want)
		}
	}
}
