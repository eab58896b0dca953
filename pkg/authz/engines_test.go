package authz

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// The IR engine and topdown must make the same decision, with the same
// headers, body and metadata, for every policy and request here: the
// policies of this package's tests, the OPA primer's, and the library's.
func TestEnginesAgree(t *testing.T) {
	policies := map[string]string{
		"rbac": rbacPolicy, "object": objectPolicy, "body": bodyPolicy, "echo": echoPolicy, "err": errPolicy,
	}
	primers, err := filepath.Glob("../../test/authz/testdata/primer_*.rego")
	if err != nil || len(primers) < 3 {
		t.Fatalf("primer policies: %v %v", primers, err)
	}
	for _, f := range primers {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		policies[strings.TrimSuffix(filepath.Base(f), ".rego")] = string(b)
	}
	head := "package envoy.authz\nimport rego.v1\nimport data.gatehouse.lib\n"
	policies["lib"] = head + `allow := {"allowed": lib.in_group("partners"), "headers": {"x-c": lib.consumer, "x-m": lib.request.method}, "dynamic_metadata": {"claims": [c | some c in lib.claims]}}`
	policies["iterate"] = head + `allow := {"allowed": count(hs) > 2, "headers": {"x-h": concat(",", sort(hs))}} if hs := [k | some k, _ in input.attributes.request.http.headers]`
	// The plan builds owner whole and meets the conflict on "/b"; topdown
	// looks up "/a" only: the IR engine must hand the decision to topdown.
	policies["lookup"] = head + `owner["/a"] := "x"
owner["/b"] := input.attributes.request.http.method
owner["/b"] := "z"
allow if owner["/a"] == "x"`
	policies["with"] = head + `x := input.attributes.request.http.method
allow if { x == "PUT" with input.attributes.request.http.method as "PUT"; x == "GET" }`

	cfg := testConfig()
	for name, src := range policies {
		query := ""
		if name == "primer_controls" {
			query = "data.envoy.authz.result"
		}
		cfg.Policies[name] = Policy{Modules: map[string]string{name + ".rego": src}, Query: query}
	}
	ir, _ := newTestService(t, cfg)
	td, err := New(Options{topdownOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := td.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for name, engine := range ir.Engines() {
		if engine != EngineIR {
			t.Errorf("policy %s: engine %q, want %q", name, engine, EngineIR)
		}
	}

	now := time.Now().Unix()
	tok := func(claims map[string]any) string { return "Bearer " + hs256ForTest(t, claims) }
	bob := base64.URLEncoding.EncodeToString([]byte("bob"))
	admin := tok(map[string]any{"role": "admin", "sub": bob, "nbf": now - 60, "exp": now + 3600})
	guest := tok(map[string]any{"role": "guest", "sub": bob, "nbf": now - 60, "exp": now + 3600})
	expired := tok(map[string]any{"role": "admin", "sub": bob, "nbf": now - 7200, "exp": now - 3600})
	js := map[string]string{"content-type": "application/json"}
	withAuth := func(h map[string]string, a string) map[string]string {
		h = maps.Clone(h)
		if h == nil {
			h = map[string]string{}
		}
		h["authorization"] = a
		return h
	}
	reqs := []req{
		{path: "/people/1", headers: withAuth(nil, admin)},
		{path: "/people/1", headers: withAuth(nil, guest)},
		{path: "/people/1", headers: withAuth(nil, expired)},
		{path: "/people/1", headers: withAuth(nil, admin+"x")},
		{path: "/people/1", headers: withAuth(nil, "Basic abc")},
		{method: "POST", path: "/people", body: `{"firstname": "Charlie"}`, headers: withAuth(js, admin)},
		{method: "POST", path: "/people", body: `{"firstname": "Bob"}`, headers: withAuth(js, admin)},
		{method: "POST", path: "/people?lang=en", body: `{"firstname": "Charlie"}`, headers: js},
		{method: "POST", path: "/orders/7", headers: map[string]string{"x-api-key": testKey}},
		{method: "DELETE", path: "/admin/x", headers: map[string]string{"x-api-key": testKey}},
		{path: "/admin/x", jwt: map[string]any{"corp-jwt": map[string]any{"sub": "acme-batch", "iss": "https://idp.example.com/", "roles": []any{"admin"}}}},
		{path: "/x?tenant=t1&tenant=t2"},
		{path: "/boom"}, {path: "/ok"},
		{method: "POST", path: "/pay", body: `{"amount": 100}`, headers: map[string]string{"content-type": "application/json", "x-api-key": testKey}},
		{method: "POST", path: "/pay", body: `{"amount": 100.5}`, headers: map[string]string{"content-type": "application/json", "x-api-key": testKey}},
		{path: "/e?a=1", headers: map[string]string{"x-expect": `{"parsed_path": ["e"], "parsed_query": {"a": ["1"]}, "truncated_body": false}`}},
		{method: "PUT", path: "/"},
	}
	n := 0
	for _, name := range sortedKeys(policies) {
		for i, r := range reqs {
			authn := ""
			if r.jwt != nil {
				authn = "corp-jwt"
			} else if r.headers["x-api-key"] != "" {
				authn = "partner-keys"
			}
			r.ext = ext("r", authn, name)
			r.ext[wire.CtxAllowAnonymous] = "true"
			cr := r.build(t)
			got, want := check(t, ir, cr), check(t, td, cr)
			delete(got.meta, wire.DecisionIDMetadataKey)
			delete(want.meta, wire.DecisionIDMetadataKey)
			if got.status != want.status || got.body != want.body || !reflect.DeepEqual(got.headers, want.headers) || !reflect.DeepEqual(got.meta, want.meta) {
				t.Errorf("policy %s, request %d (%s %s):\n   ir: %v\ntopdown: %v", name, i, r.method, r.path, got, want)
			}
			n++
		}
	}
	if o := check(t, ir, req{ext: ext("r", "", "lookup")}.build(t)); o.status != 200 {
		t.Errorf("lookup past a conflict elsewhere: %v, want 200 (topdown's answer)", o)
	}
	t.Logf("%d decisions compared (%d policies x %d requests)", n, len(policies), len(reqs))
}

func hs256ForTest(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(b)
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// Plain data references run on the IR engine; a query with variables (whose
// result count the plan does not keep) stays on topdown, and says so.
func TestEngineChoice(t *testing.T) {
	src := "package envoy.authz\nimport rego.v1\nallow if input.attributes.request.http.method == \"GET\"\nresult := {\"allowed\": allow}\n"
	cfg := &Config{Policies: map[string]Policy{
		"default": {Modules: map[string]string{"p.rego": src}},
		"result":  {Modules: map[string]string{"p.rego": src}, Query: "data.envoy.authz.result"},
		"vars":    {Modules: map[string]string{"p.rego": src}, Query: "x := data.envoy.authz.allow"},
		"groups":  {Allow: &Allow{Groups: []string{"a"}}},
	}}
	s, _ := newTestService(t, cfg)
	got := s.Engines()
	want := map[string]string{"default": EngineIR, "result": EngineIR, "vars": EngineTopdown + ": the query is not a plain data reference"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("engines %v, want %v", got, want)
	}
	o := check(t, s, req{ext: ext("r", "", "vars")}.build(t))
	if o.status != 200 {
		t.Errorf("topdown policy: %v, want 200", o)
	}
}

// Decisions reuse pooled input roots: a policy that echoes input values
// into its result, decided from many goroutines at once, must still answer
// each request with its own values.
func TestPooledInputIsolation(t *testing.T) {
	// x-n and x-path are the input's own terms, put in the result as they are.
	src := "package envoy.authz\nimport rego.v1\nallow := {\"allowed\": true, \"headers\": {\"x-n\": input.attributes.request.http.headers[\"x-n\"], \"x-path\": input.attributes.request.http.path, \"x-echo\": concat(\"|\", [input.attributes.request.http.headers[\"x-n\"], input.attributes.request.http.path, input.parsed_path[0]])}}\n"
	s, _ := newTestService(t, &Config{Policies: map[string]Policy{"echo": {Modules: map[string]string{"p.rego": src}}}})
	if e := s.Engines()["echo"]; e != EngineIR {
		t.Fatalf("engine %q", e)
	}
	const workers, each = 8, 150
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				n := fmt.Sprintf("%d-%d", w, i)
				cr := req{path: "/p" + n, headers: map[string]string{"x-n": n}, ext: ext("r", "", "echo")}.build(t)
				resp, _ := s.Check(context.Background(), cr)
				want := n + "|/p" + n + "|p" + n
				got := map[string]string{}
				for _, h := range resp.GetOkResponse().GetHeaders() {
					got[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
				}
				if got["x-echo"] != want || got["x-n"] != n || got["x-path"] != "/p"+n {
					errs <- fmt.Errorf("request %s: headers %v, want x-echo %q", n, got, want)
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
