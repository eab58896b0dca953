package regovm

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// pathPolicy selects input.a.b.<true> into locals 2, 3, 4 (with a Nop
// between the DotStmts when fused is false, so each runs on its own) and
// adds [2, 3, 4] as a row; a second block adds local 3 when the first
// leaves it defined, so the targets written before an undefined step show.
func pathPolicy(fused bool) *ir.Policy {
	dots := []ir.Stmt{
		&ir.DotStmt{Source: loc(0), Key: str(0), Target: 2},
		&ir.DotStmt{Source: loc(2), Key: str(1), Target: 3},
		&ir.DotStmt{Source: loc(3), Key: boolean(true), Target: 4},
	}
	var first []ir.Stmt
	for i, d := range dots {
		if i > 0 && !fused {
			first = append(first, &ir.NopStmt{})
		}
		first = append(first, d)
	}
	first = append(first,
		&ir.MakeArrayStmt{Capacity: 3, Target: 5},
		&ir.ArrayAppendStmt{Value: loc(2), Array: 5},
		&ir.ArrayAppendStmt{Value: loc(3), Array: 5},
		&ir.ArrayAppendStmt{Value: loc(4), Array: 5},
		&ir.ResultSetAddStmt{Value: 5},
	)
	p := policy([]string{"a", "b"}, nil, first...)
	p.Plans.Plans[0].Blocks = append(p.Plans.Plans[0].Blocks, &ir.Block{Stmts: []ir.Stmt{
		&ir.IsDefinedStmt{Source: 3},
		&ir.ResultSetAddStmt{Value: 3},
	}})
	return p
}

func TestPathFusesConstantKeyDots(t *testing.T) {
	fused, err := Compile(pathPolicy(true))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := fused.eval.blocks[0].stmts[0].(*sPath)
	if !ok || len(p.keys) != 3 || len(p.targets) != 3 {
		t.Fatalf("dots not fused into one path: %T %+v", fused.eval.blocks[0].stmts[0], p)
	}
	single, err := Compile(pathPolicy(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := single.eval.blocks[0].stmts[0].(*sDot); !ok {
		t.Fatalf("separated dots fused: %T", single.eval.blocks[0].stmts[0])
	}
	for _, in := range []string{
		`{"a": {"b": {true: 1}}}`,      // defined all the way
		`{"a": {"b": {"true": 1}}}`,    // a string key is not the boolean
		`{"a": {"b": 1}}`,              // a number has no members
		`{"a": {"c": 1}}`,              // undefined in the middle
		`{"a": ["b"]}`,                 // an array has no string keys
		`{"a": {"b": {true}}}`,         // a set's member is itself
		`{"a": {"b": {true: [true]}}}`, // composite results
		`{"x": 1}`, `[1]`, `"a"`, `null`,
	} {
		input := ast.MustParseTerm(in)
		for _, lazy := range []bool{false, true} {
			opts := func() EvalOptions {
				if !lazy {
					return EvalOptions{Input: input}
				}
				var n int
				return EvalOptions{Input: lazyTerm(input, &n)}
			}
			want, wantErr := single.Eval(opts())
			got, gotErr := fused.Eval(opts())
			if (gotErr != nil) != (wantErr != nil) || ast.NewArray(got...).Compare(ast.NewArray(want...)) != 0 {
				t.Errorf("input %s (lazy %v): fused %v %v, single dots %v %v", in, lazy, got, gotErr, want, wantErr)
			}
		}
	}
	// A defined case and an undefined one with their exact rows, so the
	// comparison above cannot pass with both sides wrong.
	expectRows(t, pathPolicy(true), `{"a": {"b": {true: 1}}}`, `[[{"b": {true: 1}}, {true: 1}, 1], {true: 1}]`)
	expectRows(t, pathPolicy(true), `{"a": {"b": 1}}`, `[1]`)
	expectRows(t, pathPolicy(true), `{"a": {"c": 1}}`, `[]`)
}
