package policy

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// validatedServices (svc.yaml) are Services carrying validation: pets
// (line 1) and pets2 the same document and modes, other another
// document, lax the same document in log-only mode.
const validatedServices = `kind: Service
name: pets
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9101}]}
  validation: {openapi: api/petstore.yaml}
---
kind: Service
name: pets2
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9102}]}
  validation: {openapi: api/petstore.yaml}
---
kind: Service
name: other
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9103}]}
  validation: {openapi: api/other.yaml}
---
kind: Service
name: lax
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9104}]}
  validation: {openapi: api/petstore.yaml, mode: logOnly}
`

const otherDoc = "openapi: 3.0.3\ninfo: {title: other, version: '1'}\npaths: {}\n"

func inheritFiles(t testing.TB, extra map[string]string) map[string]string {
	fs := map[string]string{
		"api/petstore.yaml": petstoreDoc(t),
		"api/other.yaml":    otherDoc,
		"api/broken.json":   `{"openapi": "3.0.3", "info": {"title": "t"`,
		"svc.yaml":          validatedServices,
	}
	for k, v := range extra {
		fs[k] = v
	}
	return fs
}

// TestBadServiceValidation: a Service's validation block is checked as a
// Route's is (file, line, object, field), and a Route that cannot inherit
// it soundly is refused naming the Route, the field and the Service: a
// split across Services that validate differently (the validator runs
// before the router picks one), a mirror that would get unvalidated
// copies, a path rewrite (the validator sees the client's path). {mode:
// off} is a Route's alone, and alone in its block.
func TestBadServiceValidation(t *testing.T) {
	svcDisc := service + "  discovery: {static: [{address: 127.0.0.1, port: 9001}]}\n  validation:\n"
	twoBackends := func(a, b string) string {
		return route + "  gateways: [gw]\n  backends:\n    - {service: " + a + "}\n    - {service: " + b + "}\n"
	}
	for _, tc := range []badCase{
		{"service document missing", svcDisc + "    openapi: api/nope.yaml\n", 6, "Service/s", "spec.validation.openapi", "cannot read api/nope.yaml"},
		{"service document does not parse", svcDisc + "    openapi: api/broken.json\n", 6, "Service/s", "spec.validation.openapi", "api/broken.json: parse document"},
		{"service without a document", svcDisc + "    mode: logOnly\n", 5, "Service/s", "spec.validation.openapi", "required: a file path"},
		{"service mode off", svcDisc + "    mode: off\n", 6, "Service/s", "spec.validation.mode", "off is for a Route turning its Service's validation off"},
		{"service enforced responses", svcDisc + "    openapi: api/petstore.yaml\n    responses: enforce\n", 7, "Service/s", "spec.validation.responses", "responses cannot be enforced"},
		{"service unknown validation field", svcDisc + "    openapi: api/petstore.yaml\n    strict: true\n", 7, "Service/s", "spec.validation.strict", "unknown field"},
		{"service unknown field lists validation", service + "  discovery: {static: [{address: 127.0.0.1, port: 9001}]}\n  validate: {}\n", 5, "Service/s", "spec.validate",
			`allowed: circuitBreaker, connectTimeout, discovery, healthCheck, loadBalancer, outlierDetection, protocol, tls, validation`},
		{"route off with a document", validatedRoute + "    mode: off\n    openapi: api/petstore.yaml\n", 8, "Route/r", "spec.validation.openapi", "contradicts mode: off"},
		{"route off with a limit", validatedRoute + "    mode: off\n    maxBodyKB: 64\n", 8, "Route/r", "spec.validation.maxBodyKB", "contradicts mode: off"},
		{"route unknown mode lists off", validatedRoute + "    openapi: api/petstore.yaml\n    mode: none\n", 8, "Route/r", "spec.validation.mode", `"none" is not a validation mode; one of enforce, logOnly, off`},
		{"split validated and not", twoBackends("pets", "a"), 7, "Route/r", "spec.backends[1].service", "Service/a has no validation but Service/pets validates against api/petstore.yaml"},
		{"split not validated and validated", twoBackends("a", "pets"), 7, "Route/r", "spec.backends[1].service", "Service/pets validates against api/petstore.yaml (mode enforce, responses off) but Service/a has no validation"},
		{"split across documents", twoBackends("pets", "other"), 7, "Route/r", "spec.backends[1].service", "Service/other validates against api/other.yaml"},
		{"split across modes", twoBackends("pets", "lax"), 7, "Route/r", "spec.backends[1].service", "Service/lax validates against api/petstore.yaml (mode logOnly"},
		{"inherited with a path rewrite", route + "  gateways: [gw]\n  backends: [{service: pets}]\n  rewrite: {prefix: /v2}\n", 6, "Route/r", "spec.rewrite",
			"cannot be combined with the validation this Route inherits from Service/pets (svc.yaml:1, spec.validation)"},
		{"inherited with a regex rewrite", route + "  gateways: [gw]\n  backends: [{service: pets}]\n  rewrite: {regex: {pattern: ^/api, substitution: /}}\n", 6, "Route/r", "spec.rewrite", "inherits from Service/pets"},
		{"CONNECT tunnel inheriting", route + "  gateways: [gw]\n  backends: [{service: pets}]\n  upgrades: [CONNECT]\n", 3, "Route/r", "spec.validation",
			"Service/pets's validation would apply to this CONNECT Route, whose tunnel carries bytes, not HTTP requests; set validation: {mode: off}"},
		{"untranscoded gRPC inheriting", route + "  gateways: [gw]\n  backends: [{service: grpc}]\n---\nkind: Service\nname: grpc\nspec:\n  protocol: GRPC\n  discovery: {static: [{address: 127.0.0.1, port: 9200}]}\n  validation: {openapi: api/other.yaml}\n", 3, "Route/r", "spec.validation",
			"Service/grpc's validation describes REST requests, but this Route sends gRPC calls to it untranscoded"},
		{"mirror to a validated Service", route + "  gateways: [gw]\n  backends: [{service: a}]\n  mirror: [{service: pets}]\n", 6, "Route/r", "spec.mirror[0].service",
			"Service/pets validates against api/petstore.yaml (mode enforce, responses off), but the Route's backends carry no validation"},
		{"mirror to another document", route + "  gateways: [gw]\n  backends: [{service: pets}]\n  mirror: [{service: other}]\n", 6, "Route/r", "spec.mirror[0].service", "carry another one (Service/pets validates against api/petstore.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Load(testFS(t, inheritFiles(t, map[string]string{"bad.yaml": tc.yaml})), nil)
			prefix := fmt.Sprintf("bad.yaml:%d: %s: %s: ", tc.line, tc.ref, tc.path)
			if _, ok := findErr(s, prefix, tc.msg); !ok {
				t.Errorf("no error %q + %q; got:\n%s", prefix, tc.msg, strings.Join(s.Errors(), "\n"))
			}
			kind, name, _ := strings.Cut(tc.ref, "/")
			if s.get(kind, name) != nil {
				t.Errorf("%s is served despite errors", tc.ref)
			}
			for _, e := range s.Errors() {
				if !strings.HasPrefix(e, "bad.yaml:") {
					t.Errorf("error outside the bad file: %s", e)
				}
			}
		})
	}
}

// inheritingRoutes (routes.yaml) exercise every way a Route comes by its
// validation.
const inheritingRoutes = `kind: Route
name: inherits
spec:
  gateways: [gw]
  hosts: [pets.example.com]
  backends: [{service: pets}]
---
kind: Route
name: second
spec:
  gateways: [gw]
  match: {path: {prefix: /other}}
  backends: [{service: pets, weight: 9}, {service: pets2, weight: 1}]
---
kind: Route
name: mirrors
spec:
  gateways: [gw]
  match: {path: {prefix: /mirrored}}
  backends: [{service: pets}]
  mirror: [{service: pets2}]
---
kind: Route
name: own
spec:
  gateways: [gw]
  backends: [{service: pets}]
  validation: {openapi: api/other.yaml, mode: logOnly}
---
kind: Route
name: off
spec:
  gateways: [gw]
  backends: [{service: pets}]
  rewrite: {prefix: /v2}
  validation: {mode: off}
---
kind: Route
name: tunnel
spec:
  gateways: [gw]
  hosts: [tunnel.example.com]
  backends: [{service: pets}]
  upgrades: [CONNECT]
  validation: {mode: off}
---
kind: Route
name: plain
spec:
  gateways: [gw]
  hosts: [plain.example.com]
  backends: [{service: a}]
  mirror: [{service: b}]
`

// TestServiceValidationInherited: every Route to a validated Service
// runs its validation (a second Route to it too, and a split across
// Services with the same one); a Route's own block wins, {mode: off}
// turns it off; an inherited validation is a protection proxyless gRPC
// clients cannot enforce, so such a Route is withheld from them.
func TestServiceValidationInherited(t *testing.T) {
	s := Load(testFS(t, inheritFiles(t, map[string]string{"routes.yaml": inheritingRoutes})), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
	pets := s.Services["pets"].Spec.Validation
	if pets == nil || pets.DocumentFile != "api/petstore.yaml" || !bytes.Equal(pets.Document, []byte(petstoreDoc(t))) {
		t.Fatalf("Service pets validation not loaded: %+v", pets)
	}
	for _, c := range []struct {
		route, from, doc string
		mode             string
	}{
		{"inherits", "Service/pets", "api/petstore.yaml", "enforce"},
		{"second", "Service/pets, Service/pets2", "api/petstore.yaml", "enforce"},
		{"mirrors", "Service/pets", "api/petstore.yaml", "enforce"},
		{"own", "Route/own", "api/other.yaml", "logOnly"},
		{"off", "", "", ""},
		{"tunnel", "", "", ""},
		{"plain", "", "", ""},
	} {
		v, from, err := s.Routes[c.route].EffectiveValidation(s.Services)
		if err != nil {
			t.Errorf("%s: %v", c.route, err)
			continue
		}
		got := ""
		if v != nil {
			got = v.DocumentFile + " " + string(v.Policy().Mode)
		}
		if want := strings.TrimSpace(c.doc + " " + c.mode); got != want || from != c.from {
			t.Errorf("%s: validation %q from %q, want %q from %q", c.route, got, from, want, c.from)
		}
	}
	gw := s.Gateways["gw"]
	if prot := s.Routes["inherits"].Protections(gw, s.Services); !slices.Contains(prot, "request validation") {
		t.Errorf("inherits: protections %v lack request validation", prot)
	}
	if !s.Routes["inherits"].ProxylessWithheld(gw, s.Services) {
		t.Error("inherits: a Route inheriting validation is served to proxyless gRPC clients, which would skip it")
	}
	if prot := s.Routes["off"].Protections(gw, s.Services); slices.Contains(prot, "request validation") {
		t.Errorf("off: protections %v list request validation", prot)
	}
	notes := strings.Join(s.ProxylessNotes(), "\n")
	if !strings.Contains(notes, "Route/inherits is withheld from proxyless gRPC clients") || !strings.Contains(notes, "request validation") {
		t.Errorf("proxyless notes do not withhold Route/inherits:\n%s", notes)
	}
}

// TestEffectiveValidationDisagreement: a hand-built Snapshot (never
// loaded) whose backends disagree gets an error, not one document picked
// at random, and counts as protected.
func TestEffectiveValidationDisagreement(t *testing.T) {
	s := Load(testFS(t, inheritFiles(t, nil)), nil)
	r := &Route{Meta: Meta{Kind: KindRoute, Name: "hand"}, Spec: RouteSpec{Gateways: []string{"gw"}, Hosts: []string{"x.example.com"},
		Backends: []Backend{{Service: "pets"}, {Service: "other"}}}}
	if v, _, err := r.EffectiveValidation(s.Services); err == nil || v != nil || !strings.Contains(err.Error(), "Route/hand: spec.backends[1].service: Service/other validates against api/other.yaml") {
		t.Errorf("EffectiveValidation = %v, %v; want a disagreement error", v, err)
	}
	if !r.ProxylessWithheld(s.Gateways["gw"], s.Services) {
		t.Error("a Route whose backends disagree is served to proxyless gRPC clients")
	}
}

// TestServiceValidationLastGood: a Service whose document becomes
// unreadable (or stops parsing) is rejected naming the file, line and
// field, and its last good version, document included, keeps validating
// the Routes that inherit it. Without a last good version the Service is
// not served and neither is the Route that names it.
func TestServiceValidationLastGood(t *testing.T) {
	files := inheritFiles(t, map[string]string{"routes.yaml": inheritingRoutes})
	prev := Load(testFS(t, files), nil)
	if errs := prev.Errors(); len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
	for _, doc := range []string{"", "openapi: 3.0.3\ninfo: {title: t\n"} {
		files["api/petstore.yaml"] = doc // "": removed
		next := Load(testFS(t, files), prev)
		if _, ok := findErr(next, "svc.yaml:5: Service/pets: spec.validation.openapi: ", "api/petstore.yaml"); !ok {
			t.Errorf("document %q: no error on Service/pets; got:\n%s", doc, strings.Join(next.Errors(), "\n"))
		}
		if e := rejectedEntry(next, "Service/pets"); e == nil || !e.CarriedOver {
			t.Errorf("document %q: Service/pets not carried over: %+v", doc, e)
		}
		v, from, err := next.Routes["inherits"].EffectiveValidation(next.Services)
		if err != nil || v == nil || from != "Service/pets" || !bytes.Equal(v.Document, []byte(petstoreDoc(t))) {
			t.Errorf("document %q: Route inherits lost its last good validation: %v from %q, %v", doc, v, from, err)
		}
	}
	files["api/petstore.yaml"] = ""
	fresh := Load(testFS(t, files), nil)
	if fresh.Services["pets"] != nil || fresh.Routes["inherits"] != nil {
		t.Errorf("without a last good version, Service/pets (%v) or Route/inherits (%v) is served unvalidated", fresh.Services["pets"] != nil, fresh.Routes["inherits"] != nil)
	}
}

// TestServiceValidationHoldsAnIncompatibleRoute: a Service edit that adds
// validation to a Service an existing Route rewrites the path for rejects
// that Route (it cannot inherit it) and holds its Gateway at its last good
// config: the Route is never served with the Service's new promise
// silently unkept, nor dropped so that another Route serves its paths.
func TestServiceValidationHoldsAnIncompatibleRoute(t *testing.T) {
	const svc = "kind: Service\nname: pets\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 9101}]}\n"
	const rw = "kind: Route\nname: rw\nspec:\n  gateways: [gw]\n  backends: [{service: pets}]\n  rewrite: {prefix: /v2}\n"
	files := map[string]string{"api/petstore.yaml": petstoreDoc(t), "svc.yaml": svc, "rw.yaml": rw}
	prev := Load(testFS(t, files), nil)
	if errs := prev.Errors(); len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
	files["svc.yaml"] = svc + "  validation: {openapi: api/petstore.yaml}\n"
	next := Load(testFS(t, files), prev)
	if _, ok := findErr(next, "rw.yaml:6: Route/rw: spec.rewrite: ", "inherits from Service/pets (svc.yaml:1, spec.validation)"); !ok {
		t.Errorf("no rewrite error on Route/rw; got:\n%s", strings.Join(next.Errors(), "\n"))
	}
	if next.Routes["rw"] != nil {
		t.Error("Route/rw is served although it cannot run its Service's validation")
	}
	if len(next.Held["gw"]) == 0 {
		t.Errorf("Gateway gw is not held back: %v", next.Held)
	}
	if v := next.Services["pets"].Spec.Validation; v == nil || v.DocumentFile != "api/petstore.yaml" {
		t.Errorf("Service/pets validation %+v", v)
	}
}
