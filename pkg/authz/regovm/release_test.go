package regovm

import (
	"context"
	"errors"
	"runtime/debug"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestUndefinedArgumentLeavesNoReference: a native built-in's arguments
// are read into the evaluator's scratch slice; when one is undefined the
// call is, and the values read before it must not stay in the slice: the
// evaluator goes back to the pool, and would keep the previous request's
// input (pooled by its owner) alive.
func TestUndefinedArgumentLeavesNoReference(t *testing.T) {
	p := policy(nil, nil,
		&ir.CallStmt{Func: "plus", Args: []ir.Operand{loc(0), loc(5)}, Result: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	p.Static.BuiltinFuncs = []*ir.BuiltinFunc{{Name: "plus", Decl: ast.Plus.Decl}}
	prog, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	call, ok := prog.eval.blocks[0].stmts[0].(*sCallBuiltin)
	if !ok || call.bi.fast == nil {
		t.Fatalf("statement %T is not a native built-in call", prog.eval.blocks[0].stmts[0])
	}
	e := newEvaluator()
	e.prog = prog
	frame := e.push(prog.eval.nlocals)
	frame[call.args[0].local] = ast.IntNumberTerm(7) // defined; the second is not
	v, err := e.callBuiltin(frame, call)
	if v != nil || err != nil {
		t.Fatalf("call with an undefined argument: %v %v", v, err)
	}
	for i, a := range e.args[:cap(e.args)] {
		if a != nil {
			t.Fatalf("scratch argument %d still holds %v", i, a)
		}
	}
}

// TestContextCancelsWithoutCancel: with no Cancel, the evaluation stops
// when its Context ends, as a topdown evaluation does.
func TestContextCancelsWithoutCancel(t *testing.T) {
	p := scanPolicy(&ir.SetAddStmt{Value: loc(4), Set: 2})
	prog, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = prog.Eval(EvalOptions{Context: ctx, Input: ast.MustParseTerm(`[1, 2]`)})
	var te *topdown.Error
	if !errors.As(err, &te) || te.Code != topdown.CancelErr {
		t.Fatalf("scan under an ended context: %v, want a cancellation", err)
	}
	// A live context changes nothing.
	rows, err := prog.Eval(EvalOptions{Context: context.Background(), Input: ast.MustParseTerm(`[1, 2]`)})
	if err != nil || len(rows) != 1 {
		t.Fatalf("scan: %v %v", rows, err)
	}
}

// TestRecursionIsBounded: the planner never emits a recursive plan (Rego
// rejects recursion), but one must fail, as any plan the VM cannot run,
// with ErrUnsupported rather than overflow the goroutine's stack, which
// kills the process and no recover can catch.
func TestRecursionIsBounded(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(256 << 20)) // fail fast if unbounded
	f := &ir.Func{
		Name:   "f",
		Params: []ir.Local{0, 1},
		Return: 2,
		Blocks: []*ir.Block{{Stmts: []ir.Stmt{
			&ir.CallStmt{Func: "f", Args: []ir.Operand{loc(0), loc(1)}, Result: 2},
			&ir.ReturnLocalStmt{Source: 2},
		}}},
	}
	p := policy(nil, []*ir.Func{f},
		&ir.CallStmt{Func: "f", Args: []ir.Operand{loc(0), loc(1)}, Result: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	if _, err := run(t, p, `1`); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("recursive plan: %v, want ErrUnsupported", err)
	}
}
