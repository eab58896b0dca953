package policy

import (
	"strings"
	"testing"
)

// cleanCase is a policy that must load without any error: the edge of a
// rule (a bound's last allowed value, one of two alternatives alone)
// held from the accepting side, where the bad-input tables hold it from
// the refusing side.
type cleanCase struct {
	name  string
	yaml  string
	check func(t *testing.T, s *Snapshot) // optional: what was loaded
	files map[string]string               // optional: files the yaml names
}

// runCleanCases loads each case's yaml beside the base policy and fails on
// any error.
func runCleanCases(t *testing.T, cases []cleanCase) {
	t.Helper()
	refuseDuplicateNames(t, len(cases), func(i int) string { return cases[i].name })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := map[string]string{"ok.yaml": tc.yaml}
			for k, v := range tc.files {
				fs[k] = v
			}
			s := Load(testFS(t, fs), nil)
			if errs := s.Errors(); len(errs) > 0 {
				t.Fatalf("errors:\n%s", strings.Join(errs, "\n"))
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

// refuseDuplicateNames fails t when two of n cases share a name: a case
// named twice would run under a subtest name "#01" that no one looks for.
func refuseDuplicateNames(t *testing.T, n int, name func(int) string) {
	t.Helper()
	seen := map[string]bool{}
	for i := range n {
		if seen[name(i)] {
			t.Fatalf("duplicate case name %q", name(i))
		}
		seen[name(i)] = true
	}
}
