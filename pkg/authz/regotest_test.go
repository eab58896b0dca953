package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// TestRunRegoTestsOrderAndDefaultTimeout: results come sorted by file,
// then line (whatever order the files' lines would give across files),
// and a timeout of 0 takes the default rather than timing every test out
// at once.
func TestRunRegoTestsOrderAndDefaultTimeout(t *testing.T) {
	fsys := fstest.MapFS{
		"a.rego": {Data: []byte("package a\n" + strings.Repeat("\n", 8) + "test_late if true\n")},
		// test_two does enough work for topdown to notice a deadline that
		// has already passed (a timeout of 0 taken as is).
		"b.rego": {Data: []byte("package b\n\ntest_one if true\n\ntest_two if count([x | some x in numbers.range(1, 20000)]) == 20000\n")},
	}
	res, err := RunRegoTests(context.Background(), fsys, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		if !r.Pass {
			t.Errorf("%s:%d %s did not pass: %s", r.File, r.Line, r.Name, r.Err)
		}
		got = append(got, fmt.Sprintf("%s:%d", r.File, r.Line))
	}
	if want := "[a.rego:10 b.rego:3 b.rego:5]"; fmt.Sprint(got) != want {
		t.Errorf("order %v, want %s", got, want)
	}
}
