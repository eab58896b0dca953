package authz

import (
	"context"
	"os"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

func compileForTest(t testing.TB, src, query string) *compiledPolicy {
	t.Helper()
	p, err := compilePolicy(context.Background(), "p", Policy{Query: query, Modules: map[string]string{"p.rego": src}}, map[[32]byte]*compiledPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// has reports whether path (keys below input) is built for need.
func has(n *inputNeed, path ...string) bool {
	for _, k := range path {
		if n = n.child(k); n == nil {
			return false
		}
	}
	return true
}

func TestInputNeedOf(t *testing.T) {
	primer, err := os.ReadFile("../../test/authz/testdata/primer_rbac.rego")
	if err != nil {
		t.Fatal(err)
	}
	const head = "package envoy.authz\nimport rego.v1\n"
	for _, tc := range []struct {
		name, src, query string
		want, notWant    [][]string
	}{
		{name: "primer through an import", src: string(primer),
			want:    [][]string{{"attributes", "request", "http", "headers", "authorization"}, {"parsed_body", "firstname"}},
			notWant: [][]string{{"parsed_path"}, {"parsed_query"}, {"version"}, {"attributes", "source"}, {"attributes", "contextExtensions"}}},
		{name: "input as a value", src: head + "allow if { x := input; x.a == 1 }", want: [][]string{{"version"}, {"parsed_path"}}},
		{name: "input key chosen at run time", src: head + "allow if { some k; input[k] == 1 }", want: [][]string{{"version"}}},
		{name: "header chosen at run time", src: head + "allow if { some h; input.attributes.request.http.headers[h] == \"x\" }",
			want:    [][]string{{"attributes", "request", "http", "headers", "anything"}},
			notWant: [][]string{{"attributes", "request", "http", "method"}}},
		{name: "input inside a key", src: head + "allow if { input.parsed_query[input.gatehouse.route] }",
			want:    [][]string{{"parsed_query", "any"}, {"gatehouse", "route"}},
			notWant: [][]string{{"gatehouse", "consumer"}}},
		{name: "walk", src: head + "allow if { walk(input, [_, v]); v == 1 }", want: [][]string{{"truncated_body"}}},
		{name: "query reads input", src: head + "allow := true", query: "data.envoy.authz.allow; input.version.ext_authz == \"v3\"",
			want: [][]string{{"version", "ext_authz"}}, notWant: [][]string{{"version", "encoding"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			need := compileForTest(t, tc.src, tc.query).need
			for _, p := range tc.want {
				if !has(need, p...) {
					t.Errorf("input.%v not built", p)
				}
			}
			for _, p := range tc.notWant {
				if has(need, p...) {
					t.Errorf("input.%v built, but the policy never reads it", p)
				}
			}
		})
	}
}

// A policy must decide exactly as it would with the whole input.
func TestPrunedInputDecidesAlike(t *testing.T) {
	primer, err := os.ReadFile("../../test/authz/testdata/primer_rbac.rego")
	if err != nil {
		t.Fatal(err)
	}
	const head = "package envoy.authz\nimport rego.v1\n"
	policies := map[string]string{
		"primer":  string(primer),
		"headers": head + "allow := {\"allowed\": true, \"headers\": {\"x-n\": format_int(count(input.attributes.request.http.headers), 10)}}",
		"keys":    head + "allow := [k | some k, _ in input.attributes.request.http]",
		"path":    head + "allow := {\"p\": input.parsed_path, \"q\": input.parsed_query, \"u\": object.get(input.attributes.request.http.headers, \"user-agent\", 0)}",
		// Fields unset in the request (query, fragment: Envoy leaves them
		// empty) and a key that is no field: undefined, as in the whole input.
		"unset": head + "default q := \"none\"\nq := input.attributes.request.http.query\n" +
			"default f := \"none\"\nf := input.attributes.request.http.fragment\n" +
			"default x := \"none\"\nx := input.attributes.request.http.no_such_field\n" +
			"allow := {\"q\": q, \"f\": f, \"x\": x, \"m\": input.attributes.request.http.method}",
		"lib": head + "import data.gatehouse.lib\nallow := {\"c\": lib.consumer, \"g\": lib.in_group(\"a\"), \"m\": lib.request.method, \"j\": [c | some c in lib.claims]}",
	}
	reqs := []req{
		{path: "/people/1?lang=en", headers: map[string]string{"authorization": "Bearer x.y.z", "user-agent": "curl"}, ext: ext("r", "corp-jwt", "p"),
			jwt: map[string]any{"corp-jwt": map[string]any{"sub": "alice"}}},
		{method: "POST", path: "/people", body: `{"firstname": "Bob"}`, headers: map[string]string{"content-type": "application/json"}},
	}
	gh := gatehouseTerm("g", "r", "p", identity{consumer: "acme", groups: []string{"a"}, by: "corp-jwt"})
	for name, src := range policies {
		p := compileForTest(t, src, "")
		for i, r := range reqs {
			cr := r.build(t)
			eval := func(need *inputNeed) ast.Value {
				in, err := buildInputFor(cr, 0, gh, need)
				if err != nil {
					t.Fatal(err)
				}
				rs, err := p.pq.Eval(context.Background(), rego.EvalParsedInput(in))
				if err != nil || len(rs) != 1 {
					t.Fatalf("%s: %v %v", name, rs, err)
				}
				v, err := ast.InterfaceToValue(rs[0].Expressions[0].Value)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			if full, pruned := eval(needAll), eval(p.need); full.Compare(pruned) != 0 {
				t.Errorf("%s, request %d: pruned input gives %v, whole input %v", name, i, pruned, full)
			}
		}
	}
}

// BenchmarkBuildInputPrimer is the input conversion for the OPA primer's
// JWT RBAC policy, building only what it (and the library) can read.
func BenchmarkBuildInputPrimer(b *testing.B) {
	primer, err := os.ReadFile("../../test/authz/testdata/primer_rbac.rego")
	if err != nil {
		b.Fatal(err)
	}
	need := compileForTest(b, string(primer), "").need
	r := req{path: "/people/1?lang=en", headers: map[string]string{
		"authorization": "Bearer x.y.z", "user-agent": "curl/8.5.0", "accept": "*/*",
		"x-forwarded-proto": "http", "x-request-id": "1455bbb0-0623-4810-a2c6-df73ffd8863a",
	}, ext: ext("r", "", "p"), jwt: map[string]any{"corp-jwt": map[string]any{"sub": "alice", "exp": 2e9}}}.build(b)
	gh := gatehouseTerm("public", "r", "p", identity{consumer: "acme", groups: []string{"partners"}})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := buildInputFor(r, 0, gh, need); err != nil {
			b.Fatal(err)
		}
	}
}

// A malformed path or query is an input error even for a policy that
// never reads parsed_path or parsed_query.
func TestUnreadPathStillChecked(t *testing.T) {
	p := compileForTest(t, "package envoy.authz\nimport rego.v1\nallow if input.attributes.request.http.method == \"GET\"", "")
	if has(p.need, "parsed_path") || has(p.need, "parsed_query") {
		t.Fatal("parsed_path or parsed_query built for a policy that never reads them")
	}
	for _, path := range []string{"/a%zz", "/a?x=%zz"} {
		if _, err := buildInputFor(req{path: path}.build(t), 0, nil, p.need); err == nil {
			t.Errorf("path %q: no input error", path)
		}
	}
}
