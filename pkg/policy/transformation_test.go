package policy

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/transform"
)

// Lines 1-3 of the Transformation cases below.
const xform = "kind: Transformation\nname: x\nspec:\n"

// TestBadTransformation: each way a Transformation, or a Route's use of
// one, can be wrong names file, line, object and field.
func TestBadTransformation(t *testing.T) {
	grpcSvc := "kind: Service\nname: g\nspec:\n  protocol: GRPC\n  discovery:\n    static: [{address: 127.0.0.1, port: 9003}]\n---\n"
	bodyX := xform + "  response:\n    body:\n      ops: [{remove: password}]\n---\n"
	runBadCases(t, []badCase{
		{"xform empty", xform + "  {}\n", 3, "Transformation/x", "spec", "set request, response or both"},
		{"xform unknown operation", xform + "  request:\n    body:\n      ops:\n        - frobnicate: a\n",
			7, "Transformation/x", "spec.request.body.ops[0].frobnicate", `unknown field "frobnicate"`},
		{"xform unknown side field", xform + "  request:\n    addHeaders: {a: {literal: b}}\n",
			5, "Transformation/x", "spec.request.addHeaders", `unknown field "addHeaders"`},
		{"xform two verbs", xform + "  request:\n    body:\n      ops:\n        - {remove: a, rename: b, to: c}\n",
			7, "Transformation/x", "spec.request.body.ops[0]", "exactly one of set, remove, rename, move, wrap, unwrap"},
		{"xform bad path", xform + "  request:\n    body:\n      ops:\n        - remove: \"a..b\"\n",
			7, "Transformation/x", "spec.request.body.ops[0].remove", ""},
		{"xform rename to path", xform + "  response:\n    body:\n      ops:\n        - {rename: a, to: b.c}\n",
			7, "Transformation/x", "spec.response.body.ops[0].to", "a field name (no dots) is required with rename"},
		{"xform set without value", xform + "  request:\n    body:\n      ops:\n        - set: a\n",
			7, "Transformation/x", "spec.request.body.ops[0].value", "required with set"},
		{"xform value two sources", xform + "  request:\n    setHeaders:\n      x-a: {header: b, consumer: true}\n",
			6, "Transformation/x", "spec.request.setHeaders.x-a", "exactly one of literal, header, claim, consumer"},
		{"xform status on request", xform + "  request:\n    status: {404: 200}\n",
			5, "Transformation/x", "spec.request.status", "status mapping is for responses only"},
		{"xform status out of range", xform + "  response:\n    status:\n      404: 700\n",
			6, "Transformation/x", "spec.response.status.404", "404 -> 700 is not a valid mapping"},
		{"xform status key not a code", xform + "  response:\n    status:\n      notfound: 200\n",
			6, "Transformation/x", "spec.response.status.notfound", `key "notfound" is not an integer`},
		{"xform query on response", xform + "  response:\n    setQuery: {a: {literal: b}}\n",
			5, "Transformation/x", "spec.response.setQuery", "query changes are for requests only"},
		{"xform unknown format", xform + "  request:\n    body:\n      from: yaml\n",
			6, "Transformation/x", "spec.request.body.from", `unknown format "yaml"`},
		{"xform body limit", xform + "  request:\n    body:\n      maxBytes: 1000000000\n",
			6, "Transformation/x", "spec.request.body.maxBytes", "outside 0..16777216"},
		{"xform template and to", xform + "  response:\n    body:\n      to: xml\n      template: {contentType: text/plain, text: hi}\n",
			7, "Transformation/x", "spec.response.body.template", "give either to or template"},
		{"xform literal not json", xform + "  request:\n    setHeaders:\n      x-a: {literal: !!binary aGk=}\n",
			6, "Transformation/x", "spec.request.setHeaders.x-a.literal", "expected a JSON value"},
		// Protections a transformation must not undo: the consumer header
		// is the authz service's word, Host and pseudo headers route.
		{"xform forges consumer", xform + "  request:\n    setHeaders:\n      X-Gatehouse-Consumer: {header: x-user}\n",
			6, "Transformation/x", "spec.request.setHeaders.X-Gatehouse-Consumer", "may not be set by a transformation"},
		{"xform rewrites path header", xform + "  request:\n    setHeaders:\n      \":path\": {literal: /admin}\n",
			6, "Transformation/x", "spec.request.setHeaders.:path", "may not be set by a transformation"},
		{"xform removes envoy header", xform + "  response:\n    removeHeaders: [x-envoy-upstream-service-time]\n",
			5, "Transformation/x", "spec.response.removeHeaders[0]", "may not be removed"},

		// Routes
		{"route transformation missing", route + "  gateways: [gw]\n  backends: [{service: a}]\n  transformation: nope\n",
			6, "Route/r", "spec.transformation", `Transformation "nope" does not exist`},
		{"route transformation rejected", xform + "  request: {body: {from: yaml}}\n---\n" + route + "  gateways: [gw]\n  backends: [{service: a}]\n  transformation: x\n",
			11, "Route/r", "spec.transformation", `Transformation "x" was rejected (see its errors)`},
		{"route transformation empty", route + "  gateways: [gw]\n  backends: [{service: a}]\n  transformation: \"\"\n",
			6, "Route/r", "spec.transformation", "must name a Transformation"},
		{"route body transformation on grpc", grpcSvc + bodyX + route + "  gateways: [gw]\n  backends: [{service: g}]\n  transformation: x\n",
			20, "Route/r", "spec.transformation", `Transformation "x" changes bodies, but Service "g" is GRPC`},
	})
}

// TestTransformationLoads: a valid Transformation decodes into
// pkg/transform's types as written (integer status keys, JSON literals of
// every shape), and a gRPC Route may use one that changes headers only.
func TestTransformationLoads(t *testing.T) {
	s := Load(testFS(t, map[string]string{"x.yaml": `kind: Transformation
name: users
spec:
  request:
    setQuery: {v: {literal: 2}, since: {literal: 2024-01-31}}
    body:
      ops:
        - {set: meta, value: {literal: {source: gw, tags: [a, 1, true, null, 2.5]}}}
  response:
    status: {404: 200}
    setHeaders: {x-by: {consumer: true, required: true}}
    body:
      to: xml
      xmlRoot: user
      ops: [{rename: mail, to: email}, {remove: password}]
---
kind: Transformation
name: headers
spec:
  request:
    removeHeaders: [x-debug]
---
kind: Service
name: g
spec:
  protocol: GRPC
  discovery:
    static: [{address: 127.0.0.1, port: 9003}]
---
kind: Route
name: r
spec:
  gateways: [gw]
  backends: [{service: a}]
  transformation: users
---
kind: Route
name: rg
spec:
  gateways: [gw]
  backends: [{service: g}]
  transformation: headers
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	x := s.Transformations["users"]
	if x == nil || s.Routes["r"] == nil || s.Routes["rg"] == nil {
		t.Fatalf("not served: %v %v", keys(s.Transformations), keys(s.Routes))
	}
	if got := x.Spec.Response.Status[404]; got != 200 {
		t.Errorf("status 404 -> %d, want 200", got)
	}
	meta, _ := x.Spec.Request.Body.Ops[0].Value.Literal.(map[string]any)
	tags, _ := meta["tags"].([]any)
	if meta["source"] != "gw" || len(tags) != 5 || tags[1] != 1 || tags[2] != true || tags[3] != nil || tags[4] != 2.5 {
		t.Errorf("literal decoded as %#v", x.Spec.Request.Body.Ops[0].Value.Literal)
	}
	if d := x.Spec.Request.SetQuery["since"].Literal; d != "2024-01-31" {
		t.Errorf("date literal decoded as %#v, want the string", d)
	}
	if v := x.Spec.Response.SetHeaders["x-by"]; !v.Consumer || !v.Required {
		t.Errorf("value %+v", v)
	}
	if !x.HasRequestBody() || !x.HasResponseBody() || s.Transformations["headers"].HasRequestBody() {
		t.Errorf("body detection wrong")
	}
	// What the policy holds, the service accepts.
	if _, err := transform.New(map[string]transform.Transformation{"users": x.Spec}); err != nil {
		t.Errorf("service refuses a loaded Transformation: %v", err)
	}
}

// TestDeletedTransformationStillReferencedIsKept: deleting a Transformation
// a served Route names (one that hides a field from clients) keeps its last
// good version, so the Route never starts serving raw responses.
func TestDeletedTransformationStillReferencedIsKept(t *testing.T) {
	x := xform + "  response:\n    body:\n      ops: [{remove: password_hash}]\n"
	r := route + "  gateways: [gw]\n  backends: [{service: a}]\n  transformation: x\n"
	first := Load(testFS(t, map[string]string{"x.yaml": x, "r.yaml": r}), nil)
	if errs := first.Errors(); len(errs) > 0 || first.Routes["r"] == nil {
		t.Fatalf("first load: %v", errs)
	}
	next := Load(testFS(t, map[string]string{"r.yaml": r}), first)
	if next.Routes["r"] == nil || next.Transformations["x"] == nil {
		t.Fatalf("deleting x: route %v, transformation %v; want both served", next.Routes["r"] != nil, next.Transformations["x"] != nil)
	}
	if _, ok := findErr(next, "x.yaml:1: Transformation/x: ", "still referenced by Route/r (spec.transformation)"); !ok {
		t.Errorf("no error saying x is kept: %v", next.Errors())
	}
}
