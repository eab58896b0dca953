package authz

import (
	"context"
	"strings"
	"testing"
	"time"
)

const allowAllPolicy = `package envoy.authz

allow := true
`

// unusedMembersPolicy returns members its decision does not use, with types
// that would be invalid where they are used: opa-envoy-plugin ignores them.
const unusedMembersPolicy = `package envoy.authz

allow := {"allowed": true, "body": {"not": "a string"}, "http_status": "nope"} if input.parsed_path[0] == "allow"
allow := {"allowed": false, "http_status": 429, "body": "slow down", "request_headers_to_remove": 5, "query_parameters_to_set": []} if input.parsed_path[0] == "deny"
`

// failOpenConfig: every policy fails open, so any deny below is decided.
func failOpenConfig() *Config {
	cfg := testConfig()
	mod := func(src string) map[string]string { return map[string]string{"policy.rego": src} }
	for name, src := range map[string]string{
		"allow-open": allowAllPolicy, "body-open": bodyPolicy, "undefined-open": undefinedPolicy,
		"wrong-type-open": wrongTypePolicy, "err-open": errPolicy,
		"echo-open": echoPolicy,
	} {
		cfg.Policies[name] = Policy{Modules: mod(src), FailOpen: true}
	}
	cfg.Policies["unused"] = Policy{Modules: mod(unusedMembersPolicy)} // fails closed
	cfg.Policies["multi-open"] = Policy{Modules: mod(rbacPolicy), Query: "data.envoy.authz.allow == x; x = [true, true][_]", FailOpen: true}
	return cfg
}

// TestFailOpenOnlyOnEvaluationErrors: with failOpen, a request the input
// cannot be built from is decided (400, or 413 for a cut body the policy
// reads), an undefined or malformed decision denies, and only an
// evaluation error (or the time limit: TestEvalTimeLimit) lets the request
// through. The same on both engines.
func TestFailOpenOnlyOnEvaluationErrors(t *testing.T) {
	key := map[string]string{"x-api-key": testKey}
	json := func(ct string) map[string]string { return map[string]string{"x-api-key": testKey, "content-type": ct} }
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	tests := []struct {
		name       string
		r          req
		status     int
		failedOpen bool
	}{
		{"semicolon query", req{path: "/x?a=1;b=2", ext: ext("r", "", "allow-open")}, 400, false},
		{"bad escape in query", req{path: "/x?%zz", ext: ext("r", "", "allow-open")}, 400, false},
		{"bad escape in path", req{path: "/%zz", ext: ext("r", "", "allow-open")}, 400, false},
		{"bad escape in path, eval error policy", req{path: "/%zz", ext: ext("r", "", "err-open")}, 400, false},
		{"json body {", req{method: "POST", body: "{", headers: json("application/json"), ext: ext("r", "", "allow-open")}, 400, false},
		{"json data after the value", req{method: "POST", body: `{"a":1}}`, headers: json("application/json"), ext: ext("r", "", "allow-open")}, 400, false},
		{"json two values", req{method: "POST", body: `{} {}`, headers: json("application/json"), ext: ext("r", "", "allow-open")}, 400, false},
		{"json duplicate key", req{method: "POST", body: `{"amount": 1, "amount": 1000}`, headers: json("application/json"), ext: ext("r", "partner-keys", "body-open")}, 400, false},
		{"json duplicate nested key", req{method: "POST", body: `{"a": [{"k": 1, "k": 2}]}`, headers: json("application/json"), ext: ext("r", "", "allow-open")}, 400, false},
		{"json too deep", req{method: "POST", body: deep, headers: json("application/json"), ext: ext("r", "", "allow-open")}, 400, false},
		{"json media type with other case", req{method: "POST", body: "{", headers: json("Application/JSON"), ext: ext("r", "", "allow-open")}, 400, false},
		{"+json media type", req{method: "POST", body: "{", headers: json("application/vnd.api+json; charset=utf-8"), ext: ext("r", "", "allow-open")}, 400, false},
		{"unparsable content-type with a body", req{method: "POST", body: "{}", headers: json("application/json garbage"), ext: ext("r", "", "allow-open")}, 400, false},
		{"bad content-length", req{method: "POST", body: "{}", headers: map[string]string{"content-type": "application/json", "content-length": "x"}, ext: ext("r", "", "allow-open")}, 400, false},
		{"form that does not decode", req{method: "POST", body: "a=%zz", headers: json("application/x-www-form-urlencoded"), ext: ext("r", "", "allow-open")}, 400, false},
		{"partial body, policy reads it", req{method: "POST", body: `{"amount": 1}`, headers: map[string]string{"x-api-key": testKey, "content-type": "application/json", "x-envoy-auth-partial-body": "true"}, ext: ext("r", "partner-keys", "body-open")}, 413, false},
		{"partial body, policy does not read it", req{method: "POST", body: `{"amount": 1}`, headers: map[string]string{"content-type": "application/json", "x-envoy-auth-partial-body": "true"}, ext: ext("r", "", "allow-open")}, 200, false},
		{"content-length over the body", req{method: "POST", body: `{"amount": 1}`, headers: map[string]string{"x-api-key": testKey, "content-type": "application/json", "content-length": "100000"}, ext: ext("r", "partner-keys", "body-open")}, 413, false},
		{"content-length over a text body", req{method: "POST", body: `amount=1`, headers: map[string]string{"x-api-key": testKey, "content-type": "text/plain", "content-length": "100000"}, ext: ext("r", "partner-keys", "body-open")}, 413, false},
		{"body over the parse limit", req{method: "POST", body: `{"amount": 1, "pad": "` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, headers: json("application/json"), ext: ext("r", "partner-keys", "body-open")}, 413, false},
		{"undefined decision", req{method: "POST", ext: ext("r", "", "undefined-open")}, 403, false},
		{"decision of a wrong type", req{ext: ext("r", "", "wrong-type-open")}, 403, false},
		{"several results", req{headers: key, ext: ext("r", "partner-keys", "multi-open")}, 403, false},
		{"evaluation error", req{path: "/boom", ext: ext("r", "", "err-open")}, 200, true},
		{"body policy decides a good body", req{method: "POST", body: `{"amount": 1}`, headers: json("application/json"), ext: ext("r", "partner-keys", "body-open")}, 200, false},
	}
	for _, engine := range []string{EngineIR, EngineTopdown} {
		logs := &decisions{}
		// The time limit is far away: under load a short one could stop
		// any of these and fail it open. TestEvalTimeLimit has the time
		// limit failing open, on both engines.
		s, err := New(Options{DecisionLogger: logs.log, EvalTimeout: 10 * time.Second, topdownOnly: engine == EngineTopdown})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(context.Background(), failOpenConfig()); err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				o := check(t, s, tc.r.build(t))
				d := logs.last(t)
				if o.status != tc.status || d.FailedOpen != tc.failedOpen {
					t.Fatalf("got %v failed open %v, want %d failed open %v; reasons %q", o, d.FailedOpen, tc.status, tc.failedOpen, d.Reasons)
				}
			})
		}
	}
}

// Media types per RFC 9110 and the members a decision reads, on both engines.
func TestBodyMediaTypesAndDecisionMembers(t *testing.T) {
	form := func(ct string) map[string]string { return map[string]string{"content-type": ct} }
	tests := []struct {
		name   string
		r      req
		expect string
		status int
	}{
		{"JSON in capitals", req{method: "POST", body: `{"n": 1}`, headers: form("APPLICATION/JSON")}, `{"parsed_body": {"n": 1}}`, 200},
		{"JSON with parameters", req{method: "POST", body: `{"n": 1}`, headers: form("application/json ; Charset=UTF-8")}, `{"parsed_body": {"n": 1}}`, 200},
		{"+json suffix", req{method: "POST", body: `{"n": 1}`, headers: form("application/merge-patch+json")}, `{"parsed_body": {"n": 1}}`, 200},
		{"form in capitals", req{method: "POST", body: `a=1`, headers: form("Application/X-WWW-Form-Urlencoded; charset=utf-8")}, `{"parsed_body": {"a": ["1"]}}`, 200},
		{"not JSON", req{method: "POST", body: `{"n": 1}`, headers: form("text/json-ish")}, `{"parsed_body": null}`, 200},
	}
	for _, engine := range []string{EngineIR, EngineTopdown} {
		logs := &decisions{}
		s, err := New(Options{DecisionLogger: logs.log, topdownOnly: engine == EngineTopdown})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(context.Background(), failOpenConfig()); err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				tc.r.ext = ext("r", "", "echo-open")
				tc.r.headers["x-expect"] = tc.expect
				if o := check(t, s, tc.r.build(t)); o.status != tc.status {
					t.Fatalf("got %v, want %d; reasons %q", o, tc.status, logs.last(t).Reasons)
				}
			})
		}
		t.Run(engine+"/allow ignores deny members", func(t *testing.T) {
			if o := check(t, s, req{path: "/allow", ext: ext("r", "", "unused")}.build(t)); o.status != 200 {
				t.Fatalf("got %v; reasons %q", o, logs.last(t).Reasons)
			}
		})
		t.Run(engine+"/deny ignores allow members", func(t *testing.T) {
			if o := check(t, s, req{path: "/deny", ext: ext("r", "", "unused")}.build(t)); o.status != 429 || o.body != "slow down" {
				t.Fatalf("got %v; reasons %q", o, logs.last(t).Reasons)
			}
		})
	}
}
