package policy

import (
	"fmt"
	"strings"
	"testing"
)

// TestRegoCacheBound: the compile cache keeps what it compiled (a second
// module does not evict the first) and never holds more than
// regoCacheMax results: the next one past it starts a new cache.
func TestRegoCacheBound(t *testing.T) {
	regoCache.Lock()
	saved := regoCache.m
	regoCache.m = map[string]*regoResult{}
	regoCache.Unlock()
	t.Cleanup(func() {
		regoCache.Lock()
		regoCache.m = saved
		regoCache.Unlock()
	})
	size := func() int {
		regoCache.Lock()
		defer regoCache.Unlock()
		return len(regoCache.m)
	}
	compileRego("a.rego", "package a\nallow := true\n")
	compileRego("b.rego", "package b\nallow := true\n")
	if n := size(); n != 2 {
		t.Fatalf("after two modules the cache holds %d", n)
	}
	regoCache.Lock()
	for i := len(regoCache.m); i < regoCacheMax; i++ {
		regoCache.m[fmt.Sprint("filler", i)] = &regoResult{}
	}
	regoCache.Unlock()
	compileRego("c.rego", "package c\nallow := true\n")
	if n := size(); n != 1 {
		t.Errorf("a module compiled with %d results cached leaves %d (want 1: a full cache is cleared)", regoCacheMax, n)
	}
}

// TestRegoQueryPackageDocument: a query may name the module's whole package
// (opa-envoy-plugin then reads an object decision: allowed, headers, ...),
// two terms long for a one-name package.
func TestRegoQueryPackageDocument(t *testing.T) {
	runCleanCases(t, []cleanCase{
		{"package document", "kind: Authorization\nname: z\nspec:\n  inline: \"package p\\nallowed := true\\n\"\n  query: data.p\n",
			func(t *testing.T, s *Snapshot) {
				if s.Authorizations["z"] == nil {
					t.Error("not loaded")
				}
			}, nil},
	})
}

// TestRegoErrorsCapped: a module with more errors than maxRegoErrors
// reports the first ones and how many more, on the last shown one's line.
func TestRegoErrorsCapped(t *testing.T) {
	src := "package envoy.authz\n\ndefault allow := false\n" // rows 1-3
	for i := 0; i < maxRegoErrors+2; i++ {
		src += fmt.Sprintf("allow if no_such_function_%d(input.x)\n", i) // rows 4..
	}
	s := Load(testFS(t, map[string]string{
		"policies/many.rego": src,
		"z.yaml":             "kind: Authorization\nname: z\nspec:\n  rego: policies/many.rego\n",
	}), nil)
	lastRow := 3 + maxRegoErrors
	want := fmt.Sprintf("policies/many.rego:%d: 2 more Rego errors not shown", lastRow)
	n := 0
	for _, e := range s.Errors() {
		if strings.Contains(e, "policies/many.rego:") {
			n++
		}
	}
	if _, ok := findErr(s, "z.yaml:4: Authorization/z: spec.rego: ", want); !ok || n != maxRegoErrors+1 {
		t.Errorf("want %d errors, the last %q; got:\n%s", maxRegoErrors+1, want, strings.Join(s.Errors(), "\n"))
	}
}
