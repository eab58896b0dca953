package policy

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func petstoreDoc(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../openapi/testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// validatedRoute is a Route (lines 1-6) whose validation block starts on
// line 7.
const validatedRoute = route + "  gateways: [gw]\n  backends: [{service: a}]\n  validation:\n"

// TestBadValidation: every bad validation names file, line, object and
// field: an unreadable document, one that does not parse, one that does
// not validate, contradictory or unknown modes, limits out of range.
func TestBadValidation(t *testing.T) {
	files := map[string]string{
		"api/petstore.yaml": petstoreDoc(t),
		"api/broken.yaml":   "openapi: 3.0.3\ninfo: {title: t, version: '1'\npaths: {}\n",
		"api/invalid.yaml":  "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {type: strnig}\n",
		"api/external.yaml": "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: 'other.yaml#/x'}\n",
	}
	for _, tc := range []struct {
		name, yaml string
		line       int
		ref, path  string
		msg        string
	}{
		{"missing document", validatedRoute + "    openapi: api/nope.yaml\n", 7, "Route/r", "spec.validation.openapi", "cannot read api/nope.yaml"},
		{"no document", validatedRoute + "    mode: enforce\n", 6, "Route/r", "spec.validation.openapi", "required: a file path"},
		{"absolute document", validatedRoute + "    openapi: /etc/passwd\n", 7, "Route/r", "spec.validation.openapi", "must be relative"},
		{"outside the directory", validatedRoute + "    openapi: ../../etc/passwd\n", 7, "Route/r", "spec.validation.openapi", "outside the policy directory"},
		{"document does not parse", validatedRoute + "    openapi: api/broken.yaml\n", 7, "Route/r", "spec.validation.openapi", "api/broken.yaml: parse document"},
		{"document does not validate", validatedRoute + "    openapi: api/invalid.yaml\n", 7, "Route/r", "spec.validation.openapi", "api/invalid.yaml: invalid document"},
		{"document names another file", validatedRoute + "    openapi: api/external.yaml\n", 7, "Route/r", "spec.validation.openapi", "api/external.yaml: parse document"},
		{"enforced responses", validatedRoute + "    openapi: api/petstore.yaml\n    responses: enforce\n", 8, "Route/r", "spec.validation.responses", "responses cannot be enforced"},
		{"unknown mode", validatedRoute + "    openapi: api/petstore.yaml\n    mode: block\n", 8, "Route/r", "spec.validation.mode", `"block" is not a validation mode`},
		{"unknown responses", validatedRoute + "    openapi: api/petstore.yaml\n    responses: always\n", 8, "Route/r", "spec.validation.responses", `"always" is not a response validation mode`},
		{"body limit zero", validatedRoute + "    openapi: api/petstore.yaml\n    maxBodyKB: 0\n", 8, "Route/r", "spec.validation.maxBodyKB", "0 is out of range"},
		{"depth huge", validatedRoute + "    openapi: api/petstore.yaml\n    maxDepth: 100000\n", 8, "Route/r", "spec.validation.maxDepth", "100000 is out of range"},
		{"validation with a path rewrite", route + "  gateways: [gw]\n  backends: [{service: a}]\n  rewrite: {prefix: /v2}\n  validation:\n    openapi: api/petstore.yaml\n", 7, "Route/r", "spec.validation", "cannot be combined with a path rewrite"},
		{"validation with a regex path rewrite", route + "  gateways: [gw]\n  backends: [{service: a}]\n  rewrite: {regex: {pattern: ^/v1, substitution: /v2}}\n  validation:\n    openapi: api/petstore.yaml\n", 7, "Route/r", "spec.validation", "cannot be combined with a path rewrite"},
		{"unknown field", validatedRoute + "    openapi: api/petstore.yaml\n    strict: true\n", 8, "Route/r", "spec.validation.strict", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := map[string]string{"bad.yaml": tc.yaml}
			for k, v := range files {
				fs[k] = v
			}
			s := Load(testFS(t, fs), nil)
			prefix := fmt.Sprintf("bad.yaml:%d: %s: %s: ", tc.line, tc.ref, tc.path)
			if _, ok := findErr(s, prefix, tc.msg); !ok {
				t.Errorf("no error %q + %q; got:\n%s", prefix, tc.msg, strings.Join(s.Errors(), "\n"))
			}
		})
	}
}

// TestValidationLoaded: the document is loaded into the Snapshot, the
// defaults apply, and a validated Route counts as protected (withheld
// from proxyless gRPC, which has no external processing filter).
func TestValidationLoaded(t *testing.T) {
	s := Load(testFS(t, map[string]string{
		"api/petstore.yaml": petstoreDoc(t),
		"v.yaml":            "kind: Route\nname: own\nspec:\n  gateways: [gw]\n  backends: [{service: a}]\n  validation: {openapi: api/petstore.yaml, responses: logOnly}\n",
	}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
	r := s.Routes["own"]
	v := r.Spec.Validation
	if v == nil || len(v.Document) == 0 || v.DocumentFile != "api/petstore.yaml" {
		t.Fatalf("validation not loaded: %+v", v)
	}
	if p := v.Policy(); p.Mode != "enforce" || p.Responses != "logOnly" {
		t.Errorf("policy modes %s/%s, want enforce/logOnly", p.Mode, p.Responses)
	}
	if prot := r.Protections(s.Gateways["gw"], s.Services); !slices.Contains(prot, "request validation") {
		t.Errorf("protections %v lack request validation", prot)
	}
}

// TestValidationBoundsLoad: the body and depth limits load at both ends of
// their ranges.
func TestValidationBoundsLoad(t *testing.T) {
	const r = "kind: Route\nname: r\nspec:\n  gateways: [gw]\n  backends: [{service: a}]\n"
	files := map[string]string{"api/petstore.yaml": petstoreDoc(t)}
	runCleanCases(t, []cleanCase{
		{"smallest", r + "  validation: {openapi: api/petstore.yaml, maxBodyKB: 1, maxDepth: 1}\n", nil, files},
		{"largest", r + fmt.Sprintf("  validation: {openapi: api/petstore.yaml, maxBodyKB: %d, maxDepth: %d}\n", MaxValidationBodyKB, MaxValidationDepth),
			func(t *testing.T, s *Snapshot) {
				if v := s.Routes["r"].Spec.Validation; v.MaxBodyKB != MaxValidationBodyKB || v.MaxDepth != MaxValidationDepth {
					t.Errorf("loaded %d KB, depth %d", v.MaxBodyKB, v.MaxDepth)
				}
			}, files},
	})
}
