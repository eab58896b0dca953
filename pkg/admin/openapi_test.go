package admin

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/store/memory"
)

// TestOpenAPIMatchesRoutes holds docs/openapi.yaml to the handler: every
// route served is documented, every documented route is served, and every
// $ref points at something the document defines.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	data, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node      `yaml:"paths"`
		Comps   map[string]map[string]map[string]any `yaml:"components"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi: %q, want 3.x", doc.OpenAPI)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented = append(documented, strings.ToUpper(method)+" "+p)
			}
		}
	}
	var served []string
	for _, r := range routes(&Config{Store: memory.New(nil)}) {
		served = append(served, r.pattern)
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("served but not in docs/openapi.yaml: %s", s)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("in docs/openapi.yaml but not served: %s", d)
		}
	}
	for _, ref := range refs(data) {
		parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
		if len(parts) != 2 || doc.Comps[parts[0]][parts[1]] == nil {
			t.Errorf("$ref %s points at nothing", ref)
		}
	}
}

func refs(data []byte) []string {
	var out []string
	for _, f := range strings.Split(string(data), "$ref: ")[1:] {
		out = append(out, strings.Trim(strings.FieldsFunc(f, func(r rune) bool { return r == '}' || r == '\n' || r == ',' })[0], `"`))
	}
	return out
}
