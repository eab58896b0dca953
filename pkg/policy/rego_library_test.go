package policy

import (
	"strings"
	"testing"
	"testing/fstest"
)

// A policy may use gatehouse's shipped Rego library (data.gatehouse.lib):
// the authz service loads it beside every policy, so validation compiles
// with it too. Calling a helper the library lacks is still an error.
func TestRegoUsesShippedLibrary(t *testing.T) {
	good := "kind: Authorization\nname: lib-user\nspec:\n  inline: |\n    package envoy.authz\n    import data.gatehouse.lib\n    default allow := false\n    allow if {\n      lib.method_in([\"GET\", \"HEAD\"])\n      lib.path_prefix(\"/users\")\n    }\n"
	snap := Load(fstest.MapFS{"a.yaml": {Data: []byte(good)}}, nil)
	if len(snap.Rejected) != 0 || snap.Authorizations["lib-user"] == nil {
		t.Fatalf("policy using the library rejected: %v", snap.Errors())
	}
	bad := strings.Replace(good, "lib.method_in", "lib.no_such_helper", 1)
	snap = Load(fstest.MapFS{"a.yaml": {Data: []byte(bad)}}, nil)
	if errs := strings.Join(snap.Errors(), "\n"); !strings.Contains(errs, "no_such_helper") {
		t.Fatalf("unknown library helper not reported: %q", errs)
	}
}
