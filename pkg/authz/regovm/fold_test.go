package regovm

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

func TestFoldSharesConstantLiterals(t *testing.T) {
	p := policy([]string{"k", "v"}, nil,
		&ir.MakeObjectStmt{Target: 2},
		&ir.ObjectInsertStmt{Key: str(0), Value: str(1), Object: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	prog, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := prog.eval.blocks[0].stmts[0].(*sConst); !ok {
		t.Fatalf("literal not folded: %T", prog.eval.blocks[0].stmts[0])
	}
	a, _ := prog.Eval(EvalOptions{})
	b, _ := prog.Eval(EvalOptions{})
	if len(a) != 1 || len(b) != 1 || a[0] != b[0] || a[0].String() != `{"k": "v"}` {
		t.Fatalf("rows %v and %v, want one shared {\"k\": \"v\"}", a, b)
	}
}

func TestFoldKeepsMutableLiterals(t *testing.T) {
	// U aliases T's object and is inserted into: sharing T's literal
	// would let one evaluation's insert leak into the next.
	p := policy([]string{"k", "v", "extra"}, nil,
		&ir.MakeObjectStmt{Target: 2},
		&ir.ObjectInsertStmt{Key: str(0), Value: str(1), Object: 2},
		&ir.AssignVarStmt{Source: loc(2), Target: 3},
		&ir.ObjectInsertStmt{Key: loc(0), Value: str(2), Object: 3},
		&ir.ResultSetAddStmt{Value: 2},
	)
	expectRows(t, p, `"a"`, `[{"a": "extra", "k": "v"}]`)
	expectRows(t, p, `"b"`, `[{"b": "extra", "k": "v"}]`)

	// Inserted into later in the same function: not folded either.
	later := policy([]string{"k", "v", "extra"}, nil,
		&ir.MakeObjectStmt{Target: 2},
		&ir.ObjectInsertStmt{Key: str(0), Value: str(1), Object: 2},
		&ir.NopStmt{},
		&ir.ObjectInsertStmt{Key: loc(0), Value: str(2), Object: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	prog, err := Compile(later)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{`"a"`, `"b"`} {
		rows, err := prog.Eval(EvalOptions{Input: ast.MustParseTerm(in)})
		if err != nil || len(rows) != 1 || rows[0].Value.(ast.Object).Len() != 2 {
			t.Fatalf("input %s: %v %v", in, rows, err)
		}
	}
}

func TestFoldEachRunOfAReusedLocal(t *testing.T) {
	// The planner reuses a literal's local in every rule body of a
	// function: the constant run is folded, the run with an input element
	// is not, and neither leaks into the other.
	p := policy([]string{"/", "k"}, nil,
		&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
			&ir.MakeArrayStmt{Capacity: 1, Target: 2},
			&ir.ArrayAppendStmt{Value: str(0), Array: 2},
			&ir.ResultSetAddStmt{Value: 2},
		}}}},
		&ir.MakeArrayStmt{Capacity: 2, Target: 2},
		&ir.ArrayAppendStmt{Value: str(0), Array: 2},
		&ir.ArrayAppendStmt{Value: loc(0), Array: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	prog, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	inner := prog.eval.blocks[0].stmts[0].(*sBlock).blocks[0]
	if _, ok := inner.stmts[0].(*sConst); !ok {
		t.Fatalf("constant run not folded: %T", inner.stmts[0])
	}
	if _, ok := prog.eval.blocks[0].stmts[1].(*sConst); ok {
		t.Fatal("run with a non-constant append folded")
	}
	expectRows(t, p, `"a"`, `[["/"], ["/", "a"]]`)
	expectRows(t, p, `"b"`, `[["/"], ["/", "b"]]`)

	// A mutation outside any run (after another statement) keeps every
	// run of that local unfolded.
	stray := policy([]string{"/", "k"}, nil,
		&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
			&ir.MakeArrayStmt{Capacity: 1, Target: 2},
			&ir.ArrayAppendStmt{Value: str(0), Array: 2},
			&ir.NopStmt{},
			&ir.ArrayAppendStmt{Value: loc(0), Array: 2},
			&ir.ResultSetAddStmt{Value: 2},
		}}}},
		&ir.MakeArrayStmt{Capacity: 1, Target: 2},
		&ir.ArrayAppendStmt{Value: str(0), Array: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	prog, err = Compile(stray)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := prog.eval.blocks[0].stmts[1].(*sConst); ok {
		t.Fatal("run folded although another mutation of its local is outside a run")
	}
	expectRows(t, stray, `"a"`, `[["/", "a"], ["/"]]`)
	expectRows(t, stray, `"b"`, `[["/", "b"], ["/"]]`)
}

func TestFoldStopsAtAnotherLocalsMutation(t *testing.T) {
	// The planner makes several literals before filling them (a rule's
	// head object and its value, say). A's run ends at B's insert: that
	// constant belongs to B, however many mutations A has elsewhere.
	p := policy([]string{"k", "v", "x"}, nil,
		&ir.MakeObjectStmt{Target: 3},
		&ir.MakeObjectStmt{Target: 2},
		&ir.ObjectInsertStmt{Key: str(0), Value: str(1), Object: 3},
		&ir.NopStmt{},
		&ir.ObjectInsertStmt{Key: str(2), Value: loc(0), Object: 2},
		&ir.ResultSetAddStmt{Value: 2},
		&ir.ResultSetAddStmt{Value: 3},
	)
	expectRows(t, p, `"a"`, `[{"x": "a"}, {"k": "v"}]`)
	expectRows(t, p, `"b"`, `[{"x": "b"}, {"k": "v"}]`)
}
