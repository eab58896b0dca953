package authz

import (
	"context"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// fuzzPolicies read the input in the ways policies do: whole subtrees,
// iteration, lookups with computed keys, derived fields, the body.
var fuzzPolicies = map[string]string{
	"paths": `package envoy.authz
import rego.v1
allow := {"allowed": count(input.parsed_path) < 4, "headers": {"x-p": concat("/", input.parsed_path), "x-q": json.marshal(input.parsed_query)}}`,
	"headers": `package envoy.authz
import rego.v1
allow if {
	some k, v in input.attributes.request.http.headers
	startswith(k, "x-")
	v == input.attributes.request.http.method
}`,
	"body": `package envoy.authz
import rego.v1
default allow := false
allow if input.parsed_body.n > 3
allow if input.parsed_body[_] == "yes"
allow if object.get(input, ["parsed_body", "a", "b"], 0) == 1`,
	// Memoized rules, an object literal read by key and whole, and with
	// changing the input those rules read, within one decision.
	"with": `package envoy.authz
import rego.v1
m := input.attributes.request.http.method
t := {"m": m, "p": input.attributes.request.http.path, "b": input.parsed_body}
allow := {"allowed": t.m == "GET", "headers": {"x-w": json.marshal([t, t.p, m, x, y])}} if {
	x := t.m with input.attributes.request.http.method as "PATCH"
	y := [t.p, t.b] with input.parsed_body as {"n": 1}
}`,
	"whole": `package envoy.authz
import rego.v1
allow := {"allowed": true, "headers": {"x-h": json.marshal(input.attributes.request.http), "x-t": sprintf("%v", [input.truncated_body])}}`,
}

// FuzzEnginesAgree: whatever the request, the IR engine and topdown decide
// alike (status, headers, body, metadata). `go test` runs the seeds; `go
// test -fuzz FuzzEnginesAgree ./pkg/authz` explores.
func FuzzEnginesAgree(f *testing.F) {
	f.Add("GET", "/a/b?x=1&x=2", "application/json", `{"n": 4}`, "x-a", "GET")
	f.Add("POST", "/%zz", "application/json", `{`, "x-b", "POST")
	f.Add("PUT", "//a//b/", "application/x-www-form-urlencoded", "a=1&b=yes", "y", "z")
	f.Add("GET", "/\xff\xfe?\xff=1", "text/plain", "\xff", "x-\xff", "GET")
	f.Add("DELETE", "/a?b=%20c;d", "application/json", `["yes"]`, "x-m", "DELETE")
	f.Add("GET", "/", "application/json", `{"a": {"b": 1}}`, "", "")
	cfg := &Config{Policies: map[string]Policy{}}
	for name, src := range fuzzPolicies {
		cfg.Policies[name] = Policy{Modules: map[string]string{name + ".rego": src}}
	}
	ir, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	td, err := New(Options{topdownOnly: true})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []*Service{ir, td} {
		if err := s.Update(context.Background(), cfg); err != nil {
			f.Fatal(err)
		}
	}
	for name, e := range ir.Engines() {
		if e != EngineIR {
			f.Fatalf("policy %s on %q", name, e)
		}
	}
	f.Fuzz(func(t *testing.T, method, path, contentType, body, hk, hv string) {
		for _, name := range sortedKeys(fuzzPolicies) {
			r := req{method: method, path: path, body: body, headers: map[string]string{"content-type": contentType}, ext: ext("r", "", name)}
			if hk != "" {
				r.headers[hk] = hv
			}
			cr, ok := r.tryBuild()
			if !ok {
				return // not a request Envoy could send (protojson refuses it)
			}
			got, want := check(t, ir, cr), check(t, td, cr)
			delete(got.meta, wire.DecisionIDMetadataKey)
			delete(want.meta, wire.DecisionIDMetadataKey)
			if got.status != want.status || got.body != want.body || !reflect.DeepEqual(got.headers, want.headers) || !reflect.DeepEqual(got.meta, want.meta) {
				t.Errorf("policy %s, %q %q body %q:\n     ir: %v\ntopdown: %v", name, method, path, body, got, want)
			}
		}
	})
}
