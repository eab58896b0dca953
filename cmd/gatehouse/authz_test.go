package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestAuthzTestShippedLibrary(t *testing.T) {
	out, errOut, code := runCLI(t, "authz", "test", filepath.Join("..", "..", "policies"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "PASS  lib_test.rego:") || !regexp.MustCompile(`\d+ passed, 0 failed, 0 skipped\n$`).MatchString(out) {
		t.Errorf("output:\n%s", out)
	}
}

func TestAuthzTestFailures(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.rego":      "package envoy.authz\n\nimport data.gatehouse.lib\n\nallow if lib.method_is(\"GET\")\n",
		"p_test.rego": "package envoy.authz_test\n\nimport data.envoy.authz\n\ntest_get if authz.allow with input as {\"attributes\": {\"request\": {\"http\": {\"method\": \"GET\", \"path\": \"/\"}}}}\n\ntest_post_wrongly_expected if authz.allow with input as {\"attributes\": {\"request\": {\"http\": {\"method\": \"POST\", \"path\": \"/\"}}}}\n",
	})
	out, _, code := runCLI(t, "authz", "test", dir)
	if code != 1 || !strings.Contains(out, "PASS  p_test.rego:5 envoy.authz_test.test_get") ||
		!strings.Contains(out, "FAIL  p_test.rego:7 envoy.authz_test.test_post_wrongly_expected") || !strings.Contains(out, "1 passed, 1 failed") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}

	bad := writeFiles(t, map[string]string{"bad.rego": "package x\n\nallow if {\n  input.a ==\n}\n"})
	_, errOut, code := runCLI(t, "authz", "test", bad)
	if code != 1 || !strings.Contains(errOut, "bad.rego:5") {
		t.Errorf("compile error: exit %d stderr %q, want bad.rego:5", code, errOut)
	}

	empty := writeFiles(t, map[string]string{"p.rego": "package x\n\nallow := true\n"})
	if _, errOut, code := runCLI(t, "authz", "test", empty); code != 1 || !strings.Contains(errOut, "no Rego tests") {
		t.Errorf("no tests: exit %d stderr %q", code, errOut)
	}
}

const evalRequest = `{
  "attributes": {
    "request": {"http": {
      "method": "POST", "path": "/orders?tenant=t1", "host": "api.example.com",
      "headers": {":authority": "api.example.com", "content-type": "application/json", "authorization": "Bearer secret-token"},
      "body": "{\"amount\": 12}"
    }},
    "contextExtensions": {"gatehouse.route": "orders", "gatehouse.gateway": "public"}
  }
}`

const evalPolicy = `package envoy.authz

import data.gatehouse.lib

default allow := false

allow := {"allowed": true, "headers": {"x-tenant": input.parsed_query.tenant[0]}} if {
	lib.method_is("POST")
	lib.in_group("partners")
	input.parsed_body.amount < 100
}
`

func TestAuthzEvalRegoFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{"orders.rego": evalPolicy, "req.json": evalRequest})
	pol, req := filepath.Join(dir, "orders.rego"), filepath.Join(dir, "req.json")

	out, errOut, code := runCLI(t, "authz", "eval", "--policy", pol, "--request", req, "--consumer", "acme", "--group", "partners")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"decision:    allow\n", "consumer:    acme\n", "engine:      ir\n", "  - policy allowed\n", "  x-tenant: t1\n", "  x-gatehouse-consumer: acme\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`decision id: [0-9a-f]{32}\n`).MatchString(out) {
		t.Errorf("no decision id:\n%s", out)
	}
	if strings.Contains(out, "secret-token") {
		t.Errorf("output shows the request's credential:\n%s", out)
	}

	out, _, code = runCLI(t, "authz", "eval", "--policy", pol, "--request", req, "--consumer", "globex")
	if code != 2 || !strings.Contains(out, "decision:    deny (403)") || !strings.Contains(out, "policy denied") {
		t.Errorf("not a partner: exit %d\n%s", code, out)
	}

	out, _, code = runCLI(t, "authz", "eval", "--policy", pol, "--request", req, "--group", "partners", "--json")
	var got struct {
		Decision struct {
			ID      string `json:"decision_id"`
			Allowed bool
		}
		Response map[string]any
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || !got.Decision.Allowed || got.Response["okResponse"] == nil {
		t.Errorf("--json: exit %d err %v\n%s", code, err, out)
	}
}

// evalPolicyPlain is evalPolicy without the library: the policy loader
// compiles an Authorization's module on its own (see the report on
// data.gatehouse.lib), and eval --policy NAME loads exactly as serve does.
const evalPolicyPlain = `package envoy.authz

default allow := false

allow := {"allowed": true, "headers": {"x-tenant": input.parsed_query.tenant[0]}} if {
	input.attributes.request.http.method == "POST"
	"partners" in input.gatehouse.groups
	input.parsed_body.amount < 100
}
`

func TestAuthzEvalNamedPolicy(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"authz.yaml": `kind: Authorization
name: orders-authz
spec:
  rego: rego/orders.rego
---
kind: Authorization
name: partners-only
spec:
  allow:
    groups: [partners]
---
kind: Authorization
name: inline-deny
spec:
  inline: |
    package envoy.authz
    allow := false
---
kind: Authorization
name: broken
spec:
  inline: |
    package envoy.authz
    allow if {
`,
		"rego/orders.rego": evalPolicyPlain,
		"req.json":         evalRequest,
	})
	req := filepath.Join(dir, "req.json")
	for _, tc := range []struct {
		policy string
		args   []string
		code   int
	}{
		{"orders-authz", []string{"--group", "partners"}, 0},
		{"orders-authz", nil, 2},
		{"partners-only", []string{"--group", "partners"}, 0},
		{"partners-only", []string{"--group", "staff"}, 2},
		{"inline-deny", nil, 2},
	} {
		args := append([]string{"authz", "eval", "--policy", tc.policy, "--policy-dir", dir, "--request", req}, tc.args...)
		out, errOut, code := runCLI(t, args...)
		if code != tc.code {
			t.Errorf("%s %v: exit %d, want %d\n%s%s", tc.policy, tc.args, code, tc.code, out, errOut)
		}
	}
	_, errOut, code := runCLI(t, "authz", "eval", "--policy", "broken", "--policy-dir", dir, "--request", req)
	if code != 1 || !strings.Contains(errOut, "Authorization/broken is rejected") || !strings.Contains(errOut, "authz.yaml:") {
		t.Errorf("rejected policy: exit %d %q", code, errOut)
	}
	_, errOut, code = runCLI(t, "authz", "eval", "--policy", "ghost", "--policy-dir", dir, "--request", req)
	if code != 1 || !strings.Contains(errOut, "no Authorization of that name") {
		t.Errorf("unknown policy: exit %d %q", code, errOut)
	}
	_, errOut, code = runCLI(t, "authz", "eval", "--policy", "orders-authz", "--policy-dir", dir, "--request", filepath.Join(dir, "authz.yaml"))
	if code != 1 || !strings.Contains(errOut, "not a CheckRequest") {
		t.Errorf("bad request file: exit %d %q", code, errOut)
	}
}
