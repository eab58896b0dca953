package authz

import (
	"context"
	"strings"
	"testing"
)

const rbacPolicy = `package envoy.authz

import data.gatehouse.lib

default allow := false

# Reads anyone identified; writes only partners; admin paths need a JWT role claim.
allow if {
	lib.method_in(["GET", "HEAD"])
	not lib.path_prefix("/admin")
}

allow if {
	lib.method_is("POST")
	lib.path_prefix("/orders")
	lib.in_group("partners")
}

allow if {
	lib.path_prefix("/admin")
	lib.claim_includes("roles", "admin")
}
`

const objectPolicy = `package envoy.authz

default allow := {"allowed": false, "http_status": 429, "body": "slow down", "headers": {"x-why": "quota"}}

allow := {
	"allowed": true,
	"headers": {"x-tenant": input.parsed_query.tenant[0], "x-gatehouse-consumer": "forged"},
	"request_headers_to_remove": ["x-internal", "x-gatehouse-consumer"],
	"response_headers_to_add": {"x-served-by": "gatehouse"},
	"query_parameters_to_set": {"seen": "1"},
	"query_parameters_to_remove": ["tenant"],
	"dynamic_metadata": {"tier": "gold", "consumer": "forged", "n": 3},
} if input.parsed_query.tenant
`

const bodyPolicy = `package envoy.authz

default allow := false

allow if {
	input.attributes.request.http.method == "POST"
	input.parsed_body.amount <= 100
	input.gatehouse.consumer == "acme"
}
`

const echoPolicy = `package envoy.authz

# Allowed when input.parsed_body and the other derived fields hold what the
# request header x-expect says (a JSON document), so tests can check them.
default allow := false

allow if {
	want := json.unmarshal(input.attributes.request.http.headers["x-expect"])
	every k, v in want {
		input[k] == v
	}
}
`

const errPolicy = `package envoy.authz

# Two complete definitions that disagree: an evaluation (conflict) error.
allow := true if input.parsed_path[0] == "boom"
allow := false if input.parsed_path[0] == "boom"
allow := true if input.parsed_path[0] == "ok"
`

const undefinedPolicy = `package envoy.authz

allow if input.attributes.request.http.method == "GET"
`

const wrongTypePolicy = `package envoy.authz

allow := "yes"
`

const slowPolicy = `package envoy.authz

allow if count([x | some x in numbers.range(1, 50000000); x % 7 == 0]) > 0
`

func regoConfig() *Config {
	cfg := testConfig()
	mod := func(src string) map[string]string { return map[string]string{"policy.rego": src} }
	cfg.Policies["rbac"] = Policy{Modules: mod(rbacPolicy)}
	cfg.Policies["object"] = Policy{Modules: mod(objectPolicy)}
	cfg.Policies["body"] = Policy{Modules: mod(bodyPolicy)}
	cfg.Policies["err"] = Policy{Modules: mod(errPolicy)}
	cfg.Policies["err-open"] = Policy{Modules: mod(errPolicy), FailOpen: true}
	cfg.Policies["undefined"] = Policy{Modules: mod(undefinedPolicy)}
	cfg.Policies["undefined-open"] = Policy{Modules: mod(undefinedPolicy), FailOpen: true}
	cfg.Policies["wrong-type"] = Policy{Modules: mod(wrongTypePolicy)}
	cfg.Policies["multi"] = Policy{Modules: mod(rbacPolicy), Query: "data.envoy.authz.allow == x; x = [true, true][_]"}
	cfg.Policies["slow"] = Policy{Modules: mod(slowPolicy)}
	cfg.Policies["echo"] = Policy{Modules: mod(echoPolicy)}
	return cfg
}

func TestRegoDecisions(t *testing.T) {
	s, logs := newTestService(t, regoConfig())
	key := map[string]string{"x-api-key": testKey}
	otherKey := map[string]string{"x-api-key": "gh_other"}
	keys := "partner-keys"
	jwt := func(roles ...any) map[string]any {
		return map[string]any{"corp-jwt": map[string]any{"iss": "https://idp.example.com/", "sub": "alice", "roles": roles}}
	}
	jsonCT := func(h map[string]string) map[string]string {
		out := map[string]string{"content-type": "application/json"}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name   string
		r      req
		status int
		reason string // substring of a logged reason
	}{
		{"get allowed", req{headers: key, ext: ext("r", keys, "rbac")}, 200, "policy allowed"},
		{"delete denied by method", req{method: "DELETE", path: "/orders/1", headers: key, ext: ext("r", keys, "rbac")}, 403, "policy denied"},
		{"post orders as partner", req{method: "POST", path: "/orders", headers: key, ext: ext("r", keys, "rbac")}, 200, ""},
		{"post orders not partner", req{method: "POST", path: "/orders", headers: otherKey, ext: ext("r", keys, "rbac")}, 403, ""},
		{"post elsewhere denied by path", req{method: "POST", path: "/ordersx", headers: key, ext: ext("r", keys, "rbac")}, 403, ""},
		{"admin path with role claim", req{path: "/admin/x", jwt: jwt("admin"), ext: ext("r", "corp-jwt", "rbac")}, 200, ""},
		{"admin path without role", req{path: "/admin/x", jwt: jwt("guest"), ext: ext("r", "corp-jwt", "rbac")}, 403, ""},
		{"admin path by key", req{path: "/admin/x", headers: key, ext: ext("r", keys, "rbac")}, 403, ""},
		{"undefined", req{method: "POST", ext: ext("r", "", "undefined")}, 403, "undefined"},
		{"undefined fail open", req{method: "POST", ext: ext("r", "", "undefined-open")}, 403, "decides nothing"},
		{"eval error", req{path: "/boom", ext: ext("r", "", "err")}, 403, "evaluation error"},
		{"eval error fail open", req{path: "/boom", ext: ext("r", "", "err-open")}, 200, "fails open"},
		{"no error", req{path: "/ok", ext: ext("r", "", "err")}, 200, ""},
		{"wrong type", req{ext: ext("r", "", "wrong-type")}, 403, "want a boolean or an object"},
		{"multiple results", req{headers: key, ext: ext("r", keys, "multi")}, 403, "2 results"},
		{"body allows", req{method: "POST", body: `{"amount": 42}`, headers: jsonCT(key), ext: ext("r", keys, "body")}, 200, ""},
		{"body denies", req{method: "POST", body: `{"amount": 420}`, headers: jsonCT(key), ext: ext("r", keys, "body")}, 403, ""},
		{"malformed body", req{method: "POST", body: `{"amount": 4`, headers: jsonCT(key), ext: ext("r", keys, "body")}, 400, "malformed request body"},
		{"trailing garbage body", req{method: "POST", body: `{"amount": 4} x`, headers: jsonCT(key), ext: ext("r", keys, "body")}, 400, "malformed request body"},
		{"truncated body", req{method: "POST", body: `{"amount": 4}`, headers: jsonCT(map[string]string{"x-api-key": testKey, "content-length": "100000"}), ext: ext("r", keys, "body")}, 413, "cut before authorization"},
		{"body not json", req{method: "POST", body: `amount=4`, headers: key, ext: ext("r", keys, "body")}, 403, "policy denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := check(t, s, tc.r.build(t))
			d := logs.last(t)
			if o.status != tc.status {
				t.Fatalf("got %v, want %d; reasons %q", o, tc.status, d.Reasons)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(d.Reasons, "; "), tc.reason) {
				t.Errorf("reasons %q, want one containing %q", d.Reasons, tc.reason)
			}
			if d.Status != tc.status || d.Allowed != (tc.status == 200) {
				t.Errorf("decision status %d allowed %v", d.Status, d.Allowed)
			}
		})
	}
}

func TestRegoObjectResult(t *testing.T) {
	s, logs := newTestService(t, regoConfig())
	o := check(t, s, req{path: "/x?tenant=t1&keep=1", headers: map[string]string{"x-api-key": testKey, "x-gatehouse-consumer": "root"}, ext: ext("r", "partner-keys", "object")}.build(t))
	if o.status != 200 {
		t.Fatalf("got %v", o)
	}
	ok := o.resp.GetOkResponse()
	if o.headers["x-tenant"] != "t1" || o.headers["x-gatehouse-consumer"] != "acme" {
		t.Errorf("upstream headers %v: want x-tenant t1 and the real consumer", o.headers)
	}
	for _, h := range ok.GetHeaders() {
		if h.GetHeader().GetKey() == "x-gatehouse-consumer" && h.GetHeader().GetValue() != "acme" {
			t.Errorf("policy forged the consumer header: %v", h)
		}
	}
	if got := ok.GetHeadersToRemove(); len(got) != 1 || got[0] != "x-internal" {
		t.Errorf("headers to remove %v, want [x-internal] (never the consumer header)", got)
	}
	if got := ok.GetResponseHeadersToAdd(); len(got) != 1 || got[0].GetHeader().GetValue() != "gatehouse" {
		t.Errorf("response headers %v", got)
	}
	if got := ok.GetQueryParametersToSet(); len(got) != 1 || got[0].GetKey() != "seen" {
		t.Errorf("query to set %v", got)
	}
	if got := ok.GetQueryParametersToRemove(); len(got) != 1 || got[0] != "tenant" {
		t.Errorf("query to remove %v", got)
	}
	if o.meta["tier"] != "gold" || o.meta["consumer"] != "acme" || o.meta["n"] != 3.0 {
		t.Errorf("dynamic metadata %v: want the policy's plus the real consumer", o.meta)
	}

	o = check(t, s, req{ext: ext("r", "", "object")}.build(t))
	if o.status != 429 || o.body != "slow down" || o.headers["x-why"] != "quota" {
		t.Errorf("denied object result: %v; reasons %q", o, logs.last(t).Reasons)
	}
}

func TestUpdateCompileErrorNamesFileAndLine(t *testing.T) {
	s, _ := newTestService(t, regoConfig())
	cfg := regoConfig()
	cfg.Policies["broken"] = Policy{Modules: map[string]string{"users.rego": "package envoy.authz\n\nallow if {\n  input.x ==\n}\n"}}
	err := s.Update(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "users.rego:5") || !strings.Contains(err.Error(), `"broken"`) {
		t.Fatalf("Update: %v, want an error naming users.rego:5 and the policy", err)
	}
	cfg.Policies["broken"] = Policy{Modules: map[string]string{"users.rego": "package envoy.authz\n\nallow if undefined_fn(1)\n"}}
	if err := s.Update(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "users.rego:3") {
		t.Fatalf("Update: %v, want a compile error naming users.rego:3", err)
	}
}

func TestUpdateReusesPreparedQueries(t *testing.T) {
	s, _ := newTestService(t, regoConfig())
	before := s.state.Load().policies
	cfg := regoConfig()
	cfg.Policies["err"] = Policy{Modules: map[string]string{"policy.rego": errPolicy}, FailOpen: true}
	cfg.Policies["rbac"] = Policy{Modules: map[string]string{"policy.rego": rbacPolicy + "\n# edited\n"}}
	if err := s.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	after := s.state.Load().policies
	if after["body"].pq != before["body"].pq {
		t.Error("unchanged policy was recompiled")
	}
	if after["err"].pq != before["err"].pq || !after["err"].failOpen {
		t.Error("failOpen change should keep the prepared query and take the new failOpen")
	}
	if after["rbac"].pq == before["rbac"].pq {
		t.Error("edited policy kept its old prepared query")
	}
}

// Policies written for older opa-envoy-plugin releases (Rego v0) still load.
func TestRegoV0Accepted(t *testing.T) {
	cfg := testConfig()
	cfg.Policies["v0"] = Policy{Modules: map[string]string{"old.rego": "package envoy.authz\n\ndefault allow = false\n\nallow {\n  input.attributes.request.http.method == \"GET\"\n}\n"}}
	s, _ := newTestService(t, cfg)
	if o := check(t, s, req{ext: ext("r", "", "v0")}.build(t)); o.status != 200 {
		t.Errorf("v0 policy GET: %v", o)
	}
	if o := check(t, s, req{method: "PUT", ext: ext("r", "", "v0")}.build(t)); o.status != 403 {
		t.Errorf("v0 policy PUT: %v", o)
	}
}

// The fields opa-envoy-plugin derives from the request, for each body kind.
func TestDerivedInput(t *testing.T) {
	s, logs := newTestService(t, regoConfig())
	const boundary = "XyZ"
	multipartBody := "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"j\"\r\nContent-Type: application/json\r\n\r\n{\"k\": [true]}\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n2\r\n--XyZ--\r\n"
	tests := []struct {
		name    string
		r       req
		expect  string
		allowed bool
	}{
		{"path and query", req{path: "/people/a%20b/?lang=en&lang=fr&x"}, `{"parsed_path": ["people", "a b", ""], "parsed_query": {"lang": ["en", "fr"], "x": [""]}}`, true},
		{"root path", req{path: "/"}, `{"parsed_path": [""], "parsed_query": {}}`, true},
		{"json body", req{method: "POST", body: `{"n": 1.5, "s": "x"}`, headers: map[string]string{"content-type": "application/json; charset=utf-8"}}, `{"parsed_body": {"n": 1.5, "s": "x"}, "truncated_body": false}`, true},
		{"form body", req{method: "POST", body: "a=1&a=2&b=x+y", headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}}, `{"parsed_body": {"a": ["1", "2"], "b": ["x y"]}}`, true},
		{"multipart body", req{method: "POST", body: multipartBody, headers: map[string]string{"content-type": "multipart/form-data; boundary=" + boundary}}, `{"parsed_body": {"a": ["1", "2"], "j": [{"k": [true]}]}}`, true},
		{"partial body", req{method: "POST", body: `{"n": 1`, headers: map[string]string{"content-type": "application/json", "x-envoy-auth-partial-body": "true"}}, `{"truncated_body": true}`, false}, // 413: the policy reads the body
		{"other content type", req{method: "POST", body: "<x/>", headers: map[string]string{"content-type": "text/xml"}}, `{"parsed_body": null, "truncated_body": false}`, true},
		{"version", req{}, `{"version": {"encoding": "protojson", "ext_authz": "v3"}}`, true},
		{"bad query is an input error", req{path: "/x?a=%zz"}, `{}`, false},
		{"bad content-length", req{method: "POST", body: `{}`, headers: map[string]string{"content-type": "application/json", "content-length": "x"}}, `{}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.ext = ext("r", "", "echo")
			if tc.r.headers == nil {
				tc.r.headers = map[string]string{}
			}
			tc.r.headers["x-expect"] = tc.expect
			o := check(t, s, tc.r.build(t))
			if (o.status == 200) != tc.allowed {
				t.Errorf("status %d, want allowed=%v; reasons %q", o.status, tc.allowed, logs.last(t).Reasons)
			}
		})
	}
}
