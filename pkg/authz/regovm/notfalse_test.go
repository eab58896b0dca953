package regovm

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

func TestNotFalseIsNotEqualFalse(t *testing.T) {
	plan := func(s ir.Stmt) *ir.Policy {
		return policy([]string{"x"}, nil,
			&ir.DotStmt{Source: loc(0), Key: str(0), Target: 2},
			s,
			&ir.ResultSetAddStmt{Value: 0},
		)
	}
	special, err := Compile(plan(&ir.NotEqualStmt{A: loc(2), B: boolean(false)}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := special.eval.blocks[0].stmts[1].(*sNotFalse); !ok {
		t.Fatalf("not specialized: %T", special.eval.blocks[0].stmts[1])
	}
	general, err := Compile(plan(&ir.NotEqualStmt{A: boolean(false), B: loc(2)}))
	if err != nil {
		t.Fatal(err)
	}
	passed := 0
	for _, in := range []string{
		`{"x": false}`, `{"x": true}`, `{"x": "false"}`, `{"x": 0}`, `{"x": null}`,
		`{"x": {}}`, `{"x": {"a": false}}`, `{"x": [false]}`, `{"x": {false}}`, `{}`, `[]`,
	} {
		input := ast.MustParseTerm(in)
		for _, lazy := range []bool{false, true} {
			if lazy {
				var n int
				input = lazyTerm(input, &n)
			}
			want, _ := general.Eval(EvalOptions{Input: input})
			got, err := special.Eval(EvalOptions{Input: input})
			if err != nil || len(got) != len(want) {
				t.Errorf("input %s (lazy %v): %d rows, want %d (%v)", in, lazy, len(got), len(want), err)
			}
			passed += len(got)
		}
	}
	if passed != 2*8 {
		t.Fatalf("%d passing evaluations, want 16", passed)
	}
}
