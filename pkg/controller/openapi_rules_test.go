package controller

import (
	"os"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/extproc"
	"github.com/gatehouse-dev/gatehouse/pkg/openapi"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

const openAPIBase = `kind: Gateway
name: gw
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Service
name: pets
spec:
  discovery:
    static: [{address: 127.0.0.1, port: 9001}]
`

// TestValidationReachesTheValidator: a Route's validation applied to a
// store tree (its OpenAPI document a file of the tree) becomes the
// validator's rules (Rules, as the controller hands them to the services)
// and is enforced over real gRPC through the dispatcher, as Envoy calls
// it; a validation the next load drops keeps answering during
// make-before-break and is refused after it; a client cannot pick another
// validation with a request header.
func TestValidationReachesTheValidator(t *testing.T) {
	doc, err := os.ReadFile("../openapi/testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The policy goes through the store as the admin API applies it: the
	// document is a file of the tree, the Route an object applied to it
	// (the store writes it to routes/, so the path is relative to that).
	tree := &store.Tree{Files: map[string][]byte{"base.yaml": []byte(openAPIBase), "api/petstore.yaml": doc}}
	load := func(route string) ServiceRules {
		t.Helper()
		objs, err := store.ParseObjects([]byte(route))
		if err != nil {
			t.Fatal(err)
		}
		changes, _, err := store.PlanApply(tree, objs, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap := policy.Load(store.Apply(tree, changes).FS(), nil)
		if errs := snap.Errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
		r, err := Rules(snap, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := load("kind: Route\nname: pets\nspec:\n  gateways: [gw]\n  backends: [{service: pets}]\n  validation: {openapi: ../api/petstore.yaml}\n")
	next := load("kind: Route\nname: pets-lax\nspec:\n  gateways: [gw]\n  backends: [{service: pets}]\n  validation: {openapi: ../api/petstore.yaml, mode: logOnly}\n")

	svc, err := openapi.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := extproc.New()
	d.Handle(wire.ProcessorOpenAPI, svc)
	client := extprocv3.NewExternalProcessorClient(grpctest.Serve(t, d))

	spoof := false
	// call sends a GET with an injection in the petId path parameter and
	// returns the immediate response status (0: forwarded) or the error.
	call := func(name string) (int, error) {
		hs := []*corev3.HeaderValue{{Key: ":method", RawValue: []byte("GET")}, {Key: ":path", RawValue: []byte("/api/v3/pet/1%20OR%201=1")}, {Key: ":authority", RawValue: []byte("pets.example")}}
		if spoof {
			hs = append(hs, &corev3.HeaderValue{Key: wire.OpenAPIPolicyMetadataKey, RawValue: []byte("Route/pets-lax")})
		}
		return headersVerdict(client, []string{wire.ProcessorMetadataKey, wire.ProcessorOpenAPI, wire.OpenAPIPolicyMetadataKey, name}, hs)
	}

	if err := svc.Update(first.OpenAPI); err != nil {
		t.Fatal(err)
	}
	if code, err := call("Route/pets"); err != nil || code != 400 {
		t.Fatalf("Route/pets: status %d, err %v; want 400", code, err)
	}
	if err := svc.Update(withNames(first, next).OpenAPI); err != nil {
		t.Fatal(err)
	}
	if code, err := call("Route/pets"); err != nil || code != 400 {
		t.Errorf("during the transition, Route/pets: status %d, err %v; want 400", code, err)
	}
	if code, err := call("Route/pets-lax"); err != nil || code != 0 {
		t.Errorf("during the transition, Route/pets-lax (log only): status %d, err %v; want forwarded", code, err)
	}
	spoof = true
	if code, err := call("Route/pets"); err != nil || code != 400 {
		t.Errorf("Route/pets with a spoofed header naming the lax validation: status %d, err %v; want 400", code, err)
	}
	spoof = false
	if err := svc.Update(next.OpenAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := call("Route/pets"); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("dropped validation: err %v, want FAILED_PRECONDITION", err)
	}
}
