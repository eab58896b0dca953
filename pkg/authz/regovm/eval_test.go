package regovm

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestStackGrowth: frames cut before the stack grows keep their values,
// frames after it are zeroed, and popping returns to the same depth.
func TestStackGrowth(t *testing.T) {
	e := newEvaluator()
	e.stack = make([]*ast.Term, 4)
	a := e.push(3)
	a[0], a[2] = ast.StringTerm("a0"), ast.StringTerm("a2")
	b := e.push(5) // grows
	for i, v := range b {
		if v != nil {
			t.Fatalf("new frame slot %d = %v", i, v)
		}
		b[i] = ast.IntNumberTerm(i)
	}
	c := e.push(2)
	c[1] = ast.StringTerm("c1")
	if a[0].String() != `"a0"` || a[2].String() != `"a2"` || b[4].String() != "4" || c[1].String() != `"c1"` {
		t.Fatalf("frames changed: %v %v %v", a, b, c)
	}
	e.pop(c)
	e.pop(b)
	d := e.push(5)
	for i, v := range d {
		if v != nil {
			t.Fatalf("reused frame slot %d = %v", i, v)
		}
	}
	e.pop(d)
	e.pop(a)
	if e.sp != 0 {
		t.Fatalf("sp %d after popping everything", e.sp)
	}
}
