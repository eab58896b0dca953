package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/explain"
)

const explainPolicy = goodPolicy + `---
kind: Route
name: admin
spec:
  gateways: [public]
  hosts: [api.example.com]
  match:
    path: {prefix: /admin, segments: true}
    methods: [POST]
    headers: [{name: x-tenant, present: true}]
  backends: [{service: hello}]
  rateLimit: per-tenant
---
kind: RateLimit
name: per-tenant
spec:
  limits:
    - {key: ["header:X-Tenant", remote_address], requests: 10, per: minute}
`

func TestExplainCLI(t *testing.T) {
	dir := writeFiles(t, map[string]string{"policy.yaml": explainPolicy})
	base := []string{"explain", "--policy-dir", dir, "--gateway", "public"}
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"match", []string{"--host", "api.example.com:8080", "--path", "/admin/users", "--method", "POST", "--header", "x-tenant=acme", "--client-ip", "203.0.113.7"},
			0, []string{"MATCHED: path /admin/users is /admin or under /admin/", "route admin (Route/admin, policy.yaml:",
				"[sent] ratelimit=per-tenant#0, header:X-Tenant=acme, masked_remote_address=203.0.113.7/32"}, ""},
		{"no route", []string{"--host", "api.example.com", "--path", "/admin", "--method", "GET"},
			1, []string{"skipped: method GET does not match POST", "NO ROUTE: no route of virtual host api.example.com"}, ""},
		{"other host falls to the catch-all", []string{"--host", "www.example.com", "--path", "/admin"},
			0, []string{"route hello (Route/hello"}, ""},
		{"grpc", []string{"--client", "grpc", "--host", "api.example.com", "--path", "/admin/x", "--header", "x-tenant=a"},
			0, []string{"route admin", "action withheld:"}, ""},
		{"bad header flag", []string{"--host", "h", "--path", "/", "--header", "novalue"}, 2, nil, `--header "novalue": want NAME=VALUE`},
		{"missing host", []string{"--path", "/"}, 2, nil, "--host is required"},
		{"unknown flag", []string{"--host", "h", "--path", "/", "--nope"}, 2, nil, "unknown flag: --nope"},
		{"bad client", []string{"--host", "h", "--path", "/", "--client", "curl"}, 2, nil, `client "curl": want envoy or grpc`},
		{"bad output", []string{"--host", "h", "--path", "/", "-o", "yaml"}, 2, nil, `-o "yaml": want text or json`},
		{"relative path", []string{"--host", "h", "--path", "admin"}, 2, nil, "a request path starts with '/'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := gatehouse(t, append(append([]string{}, base...), c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errOut)
			}
			flat := strings.Join(strings.Fields(out), " ")
			for _, s := range c.stdout {
				if !strings.Contains(flat, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if !strings.Contains(errOut, c.stderr) {
				t.Errorf("stderr %q, want %q", errOut, c.stderr)
			}
			for i, l := range strings.Split(out, "\n") {
				if len(l) > 100 {
					t.Errorf("line %d is %d columns wide: %q", i+1, len(l), l)
				}
			}
		})
	}
}

func TestExplainCLIJSON(t *testing.T) {
	dir := writeFiles(t, map[string]string{"policy.yaml": explainPolicy})
	code, out, errOut := gatehouse(t, "explain", "--policy-dir", dir, "--gateway", "public", "--host", "api.example.com",
		"--path", "/admin", "--method", "POST", "--header", "x-tenant=a", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res explain.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Route == nil || res.Route.Name != "admin" || len(res.Route.RateLimits) != 1 {
		t.Fatalf("%+v", res.Route)
	}
	// Without --client-ip the address entry is marked as not known offline.
	d := res.Route.RateLimits[0].Descriptors[0]
	if last := d.Entries[len(d.Entries)-1]; last.Known || !strings.Contains(last.Value, "--client-ip") {
		t.Errorf("address entry %+v", last)
	}
}

func TestExplainCLIPolicyProblems(t *testing.T) {
	// A rejected object is left out, with a note; the rest is explained.
	bad := explainPolicy + "---\nkind: RateLimit\nname: unused\nspec:\n  limits: []\n"
	dir := writeFiles(t, map[string]string{"policy.yaml": bad})
	code, _, errOut := gatehouse(t, "explain", "--policy-dir", dir, "--gateway", "public", "--host", "x", "--path", "/")
	if code != 0 || !strings.Contains(errOut, "1 object(s) rejected and left out") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	// A Route of the Gateway that cannot be served holds the Gateway back:
	// serve would keep its last good configuration, so nothing is explained.
	held := explainPolicy + "---\nkind: Route\nname: broken\nspec:\n  gateways: [public]\n  backends: []\n"
	dir = writeFiles(t, map[string]string{"policy.yaml": held})
	code, out, errOut := gatehouse(t, "explain", "--policy-dir", dir, "--gateway", "public", "--host", "x", "--path", "/")
	if code != 1 || out != "" || !strings.Contains(errOut, "Gateway public would not be built from this policy") {
		t.Errorf("held: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = gatehouse(t, "explain", "--policy-dir", dir+"/missing", "--gateway", "public", "--host", "x", "--path", "/")
	if code != 2 || !strings.Contains(errOut, "policy path") {
		t.Errorf("missing dir: exit %d, stderr %q", code, errOut)
	}
}

func TestExplainHelpFits(t *testing.T) {
	code, out, _ := gatehouse(t, "explain", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 100 {
			t.Errorf("%d columns: %q", len(l), l)
		}
	}
}

// TestExplainTranscodedExample: `gatehouse explain` on examples/transcoding
// shows the gRPC method a REST request maps to, and `gatehouse validate`
// loads the example (its committed descriptor set included).
func TestExplainTranscodedExample(t *testing.T) {
	code, out, errOut := gatehouse(t, "explain", "--policy-dir", "../../examples/transcoding", "--gateway", "public",
		"--host", "localhost:8080", "--method", "POST", "--path", "/v1/shelves/7/books")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"route bookstore-rest", "gRPC call", "/bookstore.v1.Bookstore/CreateBook (rule POST /v1/{parent=shelves/*}/books)", `parent="shelves/7" from the path`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = gatehouse(t, "validate", "../../examples/transcoding")
	if code != 0 || !strings.Contains(out, "0 objects rejected") {
		t.Errorf("validate: exit %d\n%s%s", code, out, errOut)
	}
}
