package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodPolicy = `kind: Gateway
name: public
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: hello
spec:
  discovery:
    static:
      - {address: 127.0.0.1, port: 9001}
---
kind: Route
name: hello
spec:
  gateways: [public]
  backends:
    - {service: hello}
`

func TestValidateGoodDirectory(t *testing.T) {
	dir := writeFiles(t, map[string]string{"policy.yaml": goodPolicy})
	code, out, errOut := gatehouse(t, "validate", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := "0 objects rejected, 3 valid: 1 Gateway, 1 Service, 1 Route\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestValidateBadDirectory(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"good.yaml": goodPolicy,
		"bad.yaml": `kind: Route
name: broken
spec:
  gateways: [public]
  backends:
    - {service: missing}
---
kind: Service
name: typo
spec:
  discovery:
    static:
      - {address: 127.0.0.1, port: 70000}
  colour: blue
`,
	})
	code, out, _ := gatehouse(t, "validate", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	summary := lines[len(lines)-1]
	if summary != "2 objects rejected, 3 valid: 1 Gateway, 1 Service, 1 Route" {
		t.Errorf("summary %q", summary)
	}
	errs := strings.Join(lines[:len(lines)-1], "\n")
	for _, want := range []string{
		"bad.yaml:6: Route/broken: spec.backends[0].service:",
		"bad.yaml:13: Service/typo: spec.discovery.static[0].port:",
		"bad.yaml:14: Service/typo: spec.colour:",
		// A Route that cannot be served would leave its paths to others.
		"Gateway public would not be built (gatehouse serve keeps its last good configuration, none on a fresh start):\n" +
			`  Route/broken (bad.yaml:1) cannot be served (spec.backends[0].service: Service "missing" does not exist) and has no last good version`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors lack %q:\n%s", want, errs)
		}
	}
}

func TestValidateSingleFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"all.yaml":    goodPolicy,
		"other.yaml":  "kind: Route\nname: elsewhere\nspec: {backends: [{service: nope}]}\n",
		"sub/x.yaml":  "not: [valid",
		"notes.txt":   "not policy",
		"broken.yaml": "kind: Gateway\nname: Bad_Name\nspec: {}\n",
	})
	// Only the named file is loaded, not its neighbours or subdirectories.
	code, out, errOut := gatehouse(t, "validate", filepath.Join(dir, "all.yaml"))
	if code != 0 || out != "0 objects rejected, 3 valid: 1 Gateway, 1 Service, 1 Route\n" {
		t.Errorf("all.yaml: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = gatehouse(t, "validate", filepath.Join(dir, "broken.yaml"))
	if code != 1 || !strings.Contains(out, "broken.yaml:2:") || !strings.HasSuffix(out, "1 object rejected, 0 valid: 0 Gateways, 0 Services, 0 Routes\n") {
		t.Errorf("broken.yaml: exit %d, stdout %q", code, out)
	}
	code, _, errOut = gatehouse(t, "validate", filepath.Join(dir, "notes.txt"))
	if code != 1 || !strings.Contains(errOut, ".yaml or .yml") {
		t.Errorf("notes.txt: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = gatehouse(t, "validate", filepath.Join(dir, "absent"))
	if code != 1 || !strings.Contains(errOut, "policy path") {
		t.Errorf("missing path: exit %d, stderr %q", code, errOut)
	}
}

// Every example shipped in examples/ must load without a single error, and
// translate into resources that pass the translator's pre-publish checks.
func TestExamplesValidate(t *testing.T) {
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		dir := filepath.Join("../../examples", e.Name())
		code, out, errOut := gatehouse(t, "validate", dir)
		// Notes (what proxyless clients do not get) are not errors.
		lines := strings.Split(strings.TrimSpace(out), "\n")
		clean := strings.HasPrefix(lines[len(lines)-1], "0 objects rejected")
		for _, l := range lines[:len(lines)-1] {
			clean = clean && strings.HasPrefix(l, "note: ")
		}
		if code != 0 || !clean {
			t.Errorf("examples/%s: exit %d\n%s%s", e.Name(), code, out, errOut)
		}
		groups, err := translate.Translate(policy.Load(os.DirFS(dir), nil), translate.Options{})
		if err != nil {
			t.Errorf("examples/%s does not translate: %v", e.Name(), err)
		} else if len(groups) == 0 {
			t.Errorf("examples/%s: no snapshot groups (no Gateway?)", e.Name())
		}
	}
	if n == 0 {
		t.Fatal("no example directories found")
	}
}

// As serve does, validate resolves files a policy names from outside the
// policy directory (POLICY-MODEL.md's rego: ../policies/users.rego).
func TestValidateRegoBesideDirectory(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"policies/users.rego":  "package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method == \"GET\"\n",
		"gatehouse/authz.yaml": "kind: Authorization\nname: users-authz\nspec:\n  rego: ../policies/users.rego\n",
	})
	code, out, errOut := gatehouse(t, "validate", filepath.Join(root, "gatehouse"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := "0 objects rejected, 1 valid: 0 Gateways, 0 Services, 0 Routes, 1 Authorization\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	// A Rego compile error names the Rego file and line.
	os.WriteFile(filepath.Join(root, "policies/users.rego"), []byte("package envoy.authz\n\nallow if {\n"), 0o644)
	code, out, _ = gatehouse(t, "validate", filepath.Join(root, "gatehouse"))
	if code != 1 || !strings.Contains(out, "authz.yaml:4: Authorization/users-authz: spec.rego") || !strings.Contains(out, "users.rego:") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

// validate says which protected Routes proxyless gRPC clients do not get,
// or get without their protections, and why; these are notes, not errors.
func TestValidateSaysWhatProxylessClientsMiss(t *testing.T) {
	dir := writeFiles(t, map[string]string{"policy.yaml": goodPolicy + `---
kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Route
name: admin
spec:
  gateways: [public]
  hosts: [api.example.com]
  backends: [{service: hello}]
  authentication: [keys]
---
kind: Route
name: legacy
spec:
  gateways: [public]
  hosts: [api.example.com]
  match: {path: {prefix: /legacy}}
  backends: [{service: hello}]
  authentication: [keys]
  proxyless: {serveUnprotected: true}
`})
	code, out, errOut := gatehouse(t, "validate", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"note: Gateway/public: Route/admin is withheld from proxyless gRPC clients (their calls to it fail with UNAVAILABLE): they cannot enforce its authentication",
		"note: Gateway/public: Route/legacy is served to proxyless gRPC clients WITHOUT its authentication (proxyless.serveUnprotected on Route/legacy)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// validate warns about every Route no request reaches, naming the Route
// that takes its requests; warnings are not errors (exit 0).
func TestValidateWarnsShadowedRoutes(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"p.yaml": `kind: Gateway
name: gw
spec:
  listeners: [{name: h, port: 8080, protocol: HTTP}]
---
kind: Service
name: a
spec:
  discovery: {static: [{address: 127.0.0.1, port: 1}]}
---
kind: Route
name: all
spec:
  gateways: [gw]
  backends: [{service: a}]
---
kind: Route
name: versioned
spec:
  gateways: [gw]
  match: {path: {regex: "/v[0-9]+/.*"}}
  backends: [{service: a}]
---
kind: Route
name: beta
spec:
  gateways: [gw]
  match: {path: {prefix: /beta}, headers: [{name: x-beta, present: true}]}
  backends: [{service: a}]
`,
	})
	code, out, errOut := gatehouse(t, "validate", root)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := "warning: Gateway/gw host *: Route/versioned is never reached: Route/all comes first and takes every request it matches\n"
	if !strings.Contains(out, want) {
		t.Errorf("validate lacks %q:\n%s", want, out)
	}
	if strings.Count(out, "warning: ") != 1 {
		t.Errorf("want exactly one warning (beta is more specific, so it comes first):\n%s", out)
	}
}
