package policies_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/policies"
)

// TestRego runs the library's Rego tests (what `opa test .` would), so
// `go test ./...` and `make test` fail when one of them fails.
func TestRego(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results, err := authz.RunRegoTests(ctx, os.DirFS("."), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 5 {
		t.Fatalf("found %d Rego tests, want the library's tests", len(results))
	}
	for _, r := range results {
		if !r.Pass && !r.Skip {
			t.Errorf("%s:%d %s.%s failed %s", r.File, r.Line, r.Package, r.Name, r.Err)
		}
	}
}

func TestLibraryExcludesTests(t *testing.T) {
	lib := policies.Library()
	if _, ok := lib["gatehouse/lib.rego"]; !ok {
		t.Fatalf("library lacks lib.rego: %v", keys(lib))
	}
	for name := range lib {
		if strings.HasSuffix(name, "_test.rego") {
			t.Errorf("library embeds test file %s", name)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
