package controller

import (
	"os"
	"testing"
	"testing/fstest"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/extproc"
	"github.com/gatehouse-dev/gatehouse/pkg/openapi"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// serviceValidated: Service pets carries the validation; Route pets is
// the front door, Route pets-debug a second way to the same Service (the
// same paths, chosen by a header: what an attacker would look for), and
// Route pets-lax carries its own, log-only validation (the Route's wins).
const serviceValidated = `kind: Gateway
name: gw
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Service
name: pets
spec:
  discovery:
    static: [{address: 127.0.0.1, port: 9001}]
  validation: {openapi: api/petstore.yaml}
---
kind: Route
name: pets
spec:
  gateways: [gw]
  match: {path: {prefix: /api/v3}}
  backends: [{service: pets}]
---
kind: Route
name: pets-debug
spec:
  gateways: [gw]
  match: {path: {prefix: /api/v3}, headers: [{name: x-debug, exact: "1"}]}
  backends: [{service: pets}]
---
kind: Route
name: pets-lax
spec:
  gateways: [gw]
  match: {path: {prefix: /api/v3}, headers: [{name: x-lax, exact: "1"}]}
  backends: [{service: pets}]
  validation: {openapi: api/petstore.yaml, mode: logOnly}
`

// validationNames is, for each Envoy route of gw, the validation its
// per-route config names: what Envoy sends the validator as gRPC initial
// metadata on that route's streams ("" when the filter is disabled).
func validationNames(t *testing.T, snap *policy.Snapshot) map[string]string {
	t.Helper()
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, rc := range groups[translate.GroupKey{Gateway: "gw", Client: translate.ClientEnvoy}].Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				out[r.GetName()] = ""
				pr := &extprocfilterv3.ExtProcPerRoute{}
				if a := r.GetTypedPerFilterConfig()[wire.FilterOpenAPI]; a == nil || a.UnmarshalTo(pr) != nil {
					continue
				}
				for _, h := range pr.GetOverrides().GetGrpcInitialMetadata() {
					if h.GetKey() == wire.OpenAPIPolicyMetadataKey {
						out[r.GetName()] = h.GetValue()
					}
				}
			}
		}
	}
	return out
}

// TestServiceValidationReachesTheValidator: the validation a Route
// inherits from its Service is enforced by the real validator over gRPC
// (through the dispatcher, as Envoy calls it), with the name the
// translator puts on the route and the policy the controller hands the
// services. A second Route to the Service does not escape it; a Route's
// own block wins; when the Service's document becomes unreadable, the
// last good one keeps validating.
func TestServiceValidationReachesTheValidator(t *testing.T) {
	doc, err := os.ReadFile("../openapi/testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{"policy.yaml": {Data: []byte(serviceValidated)}, "api/petstore.yaml": {Data: doc}}
	snap := policy.Load(fsys, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	names := validationNames(t, snap)
	for _, r := range []string{"pets", "pets-debug", "pets-lax"} {
		if names[r] != "Route/"+r {
			t.Fatalf("route %s names validation %q, want Route/%s (all: %v)", r, names[r], r, names)
		}
	}
	rules, err := Rules(snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := openapi.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(rules.OpenAPI); err != nil {
		t.Fatal(err)
	}
	d := extproc.New()
	d.Handle(wire.ProcessorOpenAPI, svc)
	client := extprocv3.NewExternalProcessorClient(grpctest.Serve(t, d))
	call := func(route, path string) (int, error) {
		hs := []*corev3.HeaderValue{{Key: ":method", RawValue: []byte("GET")}, {Key: ":path", RawValue: []byte(path)}, {Key: ":authority", RawValue: []byte("pets.example")}}
		return headersVerdict(client, []string{wire.ProcessorMetadataKey, wire.ProcessorOpenAPI, wire.OpenAPIPolicyMetadataKey, names[route]}, hs)
	}
	const injection, valid = "/api/v3/pet/1%20OR%201=1", "/api/v3/pet/1"
	check := func(when string) {
		t.Helper()
		for _, c := range []struct {
			route, path string
			want        int
		}{
			{"pets", injection, 400},
			{"pets", valid, 0},
			// The attacker's second way in: same Service, same validation.
			{"pets-debug", injection, 400},
			{"pets-debug", "/api/v3/pet/1;DROP%20TABLE%20pets", 400},
			{"pets-debug", valid, 0},
			// The Route's own log-only block wins: forwarded, recorded.
			{"pets-lax", injection, 0},
		} {
			if code, err := call(c.route, c.path); err != nil || code != c.want {
				t.Errorf("%s: route %s GET %s: status %d, err %v; want %d", when, c.route, c.path, code, err, c.want)
			}
		}
	}
	check("first load")

	// The document becomes unreadable: Service/pets is rejected, its
	// last good version (document included) still served, so the rules
	// the services get still validate every inheriting Route.
	delete(fsys, "api/petstore.yaml")
	next := policy.Load(fsys, snap)
	if e := next.Errors(); len(e) == 0 {
		t.Fatal("an unreadable document was not reported")
	}
	if names := validationNames(t, next); names["pets-debug"] != "Route/pets-debug" {
		t.Fatalf("after the document went missing, pets-debug names %q", names["pets-debug"])
	}
	rules, err = Rules(next, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(rules.OpenAPI); err != nil {
		t.Fatal(err)
	}
	check("document unreadable")
}
