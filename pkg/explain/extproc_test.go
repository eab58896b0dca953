package explain

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// goldenInputs translates one of the translator's golden cases.
func goldenInputs(t *testing.T, name string) Inputs {
	t.Helper()
	snap := policy.Load(hideFS{os.DirFS(filepath.Join(goldenDir, name))}, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatalf("%s: %s", name, strings.Join(errs, "\n"))
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Inputs{Policy: snap, Groups: groups}
}

func effectOf(res *Result, filter string) string {
	for _, f := range res.Route.Filters {
		if f.Filter == filter {
			return f.Effect
		}
	}
	return "(filter absent)"
}

// TestExplainValidation: explain says which document validates a request,
// in which mode, and where it comes from: the Route's own block, or the
// Services it inherits from (the split, and a second Route to the same
// Service); a Route that turns its Service's validation off says so; a
// Route to an unvalidated Service shows the filter disabled.
func TestExplainValidation(t *testing.T) {
	in := goldenInputs(t, "openapi-service")
	for _, c := range []struct {
		name    string
		req     Request
		route   string
		want    *ValidationInfo
		effect  string
		text    string
		nottext string
	}{
		{"split inherits", Request{Host: "petstore.example.com", Path: "/api/v3/pet/1"}, "petstore",
			&ValidationInfo{Name: "Route/petstore", Document: "api/petstore.yaml", From: "Service/pets, Service/pets-canary", Mode: "enforce", Responses: "off", MaxBodyKB: 1024, MaxDepth: 32},
			"validates against api/petstore.yaml (from Service/pets, Service/pets-canary): a request that does not match: 400",
			"request validation: api/petstore.yaml (from Service/pets, Service/pets-canary): mode enforce, responses off", ""},
		{"second route inherits", Request{Host: "shop.example.com", Path: "/admin/pets"}, "petstore-admin",
			&ValidationInfo{Name: "Route/petstore-admin", Document: "api/petstore.yaml", From: "Service/pets", Mode: "enforce", Responses: "off", MaxBodyKB: 1024, MaxDepth: 32},
			"(from Service/pets)", "(from Service/pets): mode enforce", ""},
		{"route's own wins", Request{Host: "shop.example.com", Path: "/api/v3/pet/1", Headers: []KV{{"x-beta", "1"}}}, "petstore-beta",
			&ValidationInfo{Name: "Route/petstore-beta", Document: "api/petstore.yaml", From: "Route/petstore-beta", Mode: "logOnly", Responses: "logOnly", MaxBodyKB: 1024, MaxDepth: 32},
			"log only: a request that does not match (or whose body is over 1024 KiB) is forwarded and recorded; responses checked, log only",
			"(from Route/petstore-beta): mode logOnly, responses logOnly", ""},
		{"turned off", Request{Host: "shop.example.com", Path: "/raw/pets"}, "petstore-raw", nil,
			"disabled on this route (validation: {mode: off} turns off Service/pets's validation)", "", "request validation:"},
		{"unvalidated service", Request{Host: "shop.example.com", Path: "/index.html"}, "site", nil, "disabled on this route", "", "request validation:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.req.Gateway = "edge"
			res := explainOK(t, in, c.req)
			if res.Route == nil || res.Route.Name != c.route {
				t.Fatalf("route %+v, want %s (%s)", res.Route, c.route, res.NoMatch)
			}
			if !reflect.DeepEqual(res.Route.Validation, c.want) {
				t.Errorf("validation %+v, want %+v", res.Route.Validation, c.want)
			}
			if e := effectOf(res, wire.FilterOpenAPI); !strings.Contains(e, c.effect) {
				t.Errorf("filter effect %q, want %q", e, c.effect)
			}
			var b bytes.Buffer
			if err := WriteText(&b, res); err != nil {
				t.Fatal(err)
			}
			if c.text != "" && !strings.Contains(strings.Join(strings.Fields(b.String()), " "), c.text) {
				t.Errorf("text lacks %q:\n%s", c.text, b.String())
			}
			if c.nottext != "" && strings.Contains(b.String(), c.nottext) {
				t.Errorf("text has %q:\n%s", c.nottext, b.String())
			}
		})
	}
}

// TestExplainFirewallAndTransformation: the WAF's Firewall, its mode and
// where it comes from (the Route or the Gateway's default, or turned off),
// and the Transformation with what it changes on each side, next to
// validation in the filter order Envoy runs them.
func TestExplainFirewallAndTransformation(t *testing.T) {
	in := goldenInputs(t, "openapi")
	res := explainOK(t, in, Request{Gateway: "edge", Host: "petstore.example.com", Path: "/api/v3/pet/1"})
	if res.Route == nil || res.Route.Name != "petstore" {
		t.Fatalf("route %+v (%s)", res.Route, res.NoMatch)
	}
	rt := res.Route
	if want := (&FirewallInfo{Name: "crs", From: "Route/petstore", Mode: "blocking", ParanoiaLevel: 1, Inbound: 5, Outbound: 4, FailureMode: "closed"}); !reflect.DeepEqual(rt.Firewall, want) {
		t.Errorf("firewall %+v, want %+v", rt.Firewall, want)
	}
	if want := (&TransformationInfo{Name: "petstore-out", Response: []string{"headers", "body"}}); !reflect.DeepEqual(rt.Transformation, want) {
		t.Errorf("transformation %+v, want %+v", rt.Transformation, want)
	}
	if rt.Validation == nil || rt.Validation.From != "Route/petstore" {
		t.Errorf("validation %+v, want from Route/petstore", rt.Validation)
	}
	// Envoy's order: the WAF, then validation, then transformation.
	var order []string
	for _, f := range rt.Filters {
		if isExtProcFilter(f.Filter) {
			order = append(order, f.Filter)
		}
	}
	if want := []string{wire.FilterWAF, wire.FilterOpenAPI, wire.FilterTransform}; !reflect.DeepEqual(order, want) {
		t.Errorf("external processing filters %v, want %v", order, want)
	}
	if e := effectOf(res, wire.FilterWAF); !strings.Contains(e, "Firewall crs (OWASP CRS, paranoia level 1): a request scoring 5 or more is refused: 403; WAF unreachable: fails closed") {
		t.Errorf("WAF effect %q", e)
	}
	if e := effectOf(res, wire.FilterTransform); e != "Transformation petstore-out changes the response's headers, body" {
		t.Errorf("transformation effect %q", e)
	}
	var b bytes.Buffer
	if err := WriteText(&b, res); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		"web application firewall: Firewall crs (from Route/petstore): blocking, paranoia level 1, anomaly thresholds inbound 5, outbound 4; fails closed",
		"request validation: api/petstore.yaml (from Route/petstore): mode enforce",
		"transformation: Transformation petstore-out: request (none); response headers, body",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}

	waf := goldenInputs(t, "waf")
	for _, c := range []struct {
		path string
		want *FirewallInfo
		eff  string
	}{
		{"/", &FirewallInfo{Name: "crs", From: "Gateway/edge (defaults.firewall)", Mode: "blocking", ParanoiaLevel: 1, Inbound: 5, Outbound: 4, FailureMode: "closed"}, "Firewall crs"},
		{"/api/orders", &FirewallInfo{Name: "strict", From: "Route/api", Mode: "blocking", ParanoiaLevel: 3, Inbound: 10, Outbound: 8, InspectResponse: true, FailureMode: "closed"}, "a request scoring 10 or more is refused: 403; inspects the response too"},
		{"/search", &FirewallInfo{Name: "lenient", From: "Route/search", Mode: "detection only", ParanoiaLevel: 1, Inbound: 5, Outbound: 4, FailureMode: "open"}, "detection only: scores and logs the request, never blocks; WAF unreachable: fails open"},
		{"/healthz", nil, "disabled on this route (firewall: none turns the Gateway's default off)"},
	} {
		res := explainOK(t, waf, Request{Gateway: "edge", Host: "www.example.org", Path: c.path, Headers: []KV{{"x-api-key", "k"}}})
		if res.Route == nil {
			t.Fatalf("%s: no route: %s", c.path, res.NoMatch)
		}
		if !reflect.DeepEqual(res.Route.Firewall, c.want) {
			t.Errorf("%s: firewall %+v, want %+v", c.path, res.Route.Firewall, c.want)
		}
		if e := effectOf(res, wire.FilterWAF); !strings.Contains(e, c.eff) {
			t.Errorf("%s: WAF effect %q, want %q", c.path, e, c.eff)
		}
	}
}
