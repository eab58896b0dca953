package regovm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/types"
)

// Hand-built plans pin the statement semantics the planner relies on (the
// Wasm compiler's), including shapes rego rarely produces.

func loc(l int) ir.Operand      { return ir.Operand{Value: ir.Local(l)} }
func str(i int) ir.Operand      { return ir.Operand{Value: ir.StringIndex(i)} }
func boolean(b bool) ir.Operand { return ir.Operand{Value: ir.Bool(b)} }

func policy(strs []string, funcs []*ir.Func, stmts ...ir.Stmt) *ir.Policy {
	p := &ir.Policy{
		Static: &ir.Static{},
		Plans:  &ir.Plans{Plans: []*ir.Plan{{Name: "eval", Blocks: []*ir.Block{{Stmts: stmts}}}}},
		Funcs:  &ir.Funcs{Funcs: funcs},
	}
	for _, s := range strs {
		p.Static.Strings = append(p.Static.Strings, &ir.StringConst{Value: s})
	}
	return p
}

func run(t *testing.T, p *ir.Policy, input string) ([]*ast.Term, error) {
	t.Helper()
	prog, err := Compile(p)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var in *ast.Term
	if input != "" {
		in = ast.MustParseTerm(input)
	}
	return prog.Eval(EvalOptions{Context: context.Background(), Input: in})
}

func expectRows(t *testing.T, p *ir.Policy, input, want string) {
	t.Helper()
	rows, err := run(t, p, input)
	if err != nil {
		t.Fatalf("eval: %v", err)
	}
	if got := ast.NewArray(rows...).String(); got != want {
		t.Fatalf("input %s: rows %s, want %s", input, got, want)
	}
}

func TestBreakLeavesEnclosingBlocks(t *testing.T) {
	// Break 1 in the innermost block leaves it and the block holding its
	// BlockStmt; the outer BlockStmt goes on with its next block.
	p := policy([]string{"x", "y", "z"}, nil,
		&ir.MakeObjectStmt{Target: 2},
		&ir.BlockStmt{Blocks: []*ir.Block{
			{Stmts: []ir.Stmt{
				&ir.BlockStmt{Blocks: []*ir.Block{
					{Stmts: []ir.Stmt{&ir.BreakStmt{Index: 1}}},
					{Stmts: []ir.Stmt{&ir.ObjectInsertStmt{Key: str(0), Value: boolean(true), Object: 2}}},
				}},
				&ir.ObjectInsertStmt{Key: str(1), Value: boolean(true), Object: 2},
			}},
			{Stmts: []ir.Stmt{&ir.ObjectInsertStmt{Key: str(2), Value: boolean(true), Object: 2}}},
		}},
		&ir.ResultSetAddStmt{Value: 2},
	)
	expectRows(t, p, "", `[{"z": true}]`)
}

func TestUndefinedEndsOnlyItsBlock(t *testing.T) {
	p := policy([]string{"a", "b"}, nil,
		&ir.MakeObjectStmt{Target: 2},
		&ir.BlockStmt{Blocks: []*ir.Block{
			{Stmts: []ir.Stmt{
				&ir.IsObjectStmt{Source: loc(0)},
				&ir.ObjectInsertStmt{Key: str(0), Value: boolean(true), Object: 2},
			}},
			{Stmts: []ir.Stmt{&ir.ObjectInsertStmt{Key: str(1), Value: boolean(true), Object: 2}}},
		}},
		&ir.ResultSetAddStmt{Value: 2},
	)
	expectRows(t, p, `{}`, `[{"a": true, "b": true}]`)
	expectRows(t, p, `[]`, `[{"b": true}]`)
	expectRows(t, p, ``, `[{"b": true}]`)
}

func scanPolicy(body ...ir.Stmt) *ir.Policy {
	return policy(nil, nil,
		&ir.MakeSetStmt{Target: 2},
		&ir.MakeNumberIntStmt{Value: 2, Target: 5},
		&ir.ScanStmt{Source: 0, Key: 3, Value: 4, Block: &ir.Block{Stmts: body}},
		&ir.ResultSetAddStmt{Value: 2},
	)
}

func TestScan(t *testing.T) {
	// Undefined in the body continues with the next element.
	skip := scanPolicy(&ir.NotEqualStmt{A: loc(4), B: loc(5)}, &ir.SetAddStmt{Value: loc(4), Set: 2})
	expectRows(t, skip, `[1, 2, 3]`, `[{1, 3}]`)
	expectRows(t, skip, `{"a": 1, "b": 2, "c": 3}`, `[{1, 3}]`)
	expectRows(t, skip, `{1, 2, 3}`, `[{1, 3}]`)
	expectRows(t, skip, `"scalar"`, `[set()]`)
	expectRows(t, skip, ``, `[set()]`)

	// A break 1 out of the body ends the scan, the plan goes on.
	stop := scanPolicy(
		&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{&ir.EqualStmt{A: loc(4), B: loc(5)}, &ir.BreakStmt{Index: 2}}}}},
		&ir.SetAddStmt{Value: loc(4), Set: 2},
	)
	expectRows(t, stop, `[1, 2, 3]`, `[{1}]`)

	// A break 2 also leaves the block holding the scan; a break 3 one more.
	nested := func(index uint32) *ir.Policy {
		return policy(nil, nil,
			&ir.MakeSetStmt{Target: 2},
			&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
				&ir.ScanStmt{Source: 0, Key: 3, Value: 4, Block: &ir.Block{Stmts: []ir.Stmt{&ir.BreakStmt{Index: index}}}},
				&ir.SetAddStmt{Value: boolean(true), Set: 2},
			}}}},
			&ir.ResultSetAddStmt{Value: 2},
		)
	}
	expectRows(t, nested(1), `[1]`, `[{true}]`)
	expectRows(t, nested(2), `[1]`, `[set()]`)
	expectRows(t, nested(3), `[1]`, `[]`)
	expectRows(t, nested(3), `[]`, `[{true}]`)

	// Keys of arrays are indexes.
	keys := scanPolicy(&ir.SetAddStmt{Value: loc(3), Set: 2})
	expectRows(t, keys, `["a", "b"]`, `[{0, 1}]`)
}

func TestNot(t *testing.T) {
	p := policy([]string{"x"}, nil,
		&ir.NotStmt{Block: &ir.Block{Stmts: []ir.Stmt{&ir.DotStmt{Source: loc(0), Key: str(0), Target: 2}}}},
		&ir.MakeNullStmt{Target: 3},
		&ir.ResultSetAddStmt{Value: 3},
	)
	expectRows(t, p, `{"x": false}`, `[]`)
	expectRows(t, p, `{"y": 1}`, `[null]`)
	expectRows(t, p, ``, `[null]`)
}

func TestWithResetsMemo(t *testing.T) {
	// f(input, data) = input is memoized; inside `with input as "w"` it is
	// evaluated afresh, and after the with the outer memo is back.
	f := &ir.Func{Name: "f", Params: []ir.Local{0, 1}, Return: 2, Blocks: []*ir.Block{
		{Stmts: []ir.Stmt{&ir.AssignVarStmt{Source: loc(0), Target: 2}}},
		{Stmts: []ir.Stmt{&ir.ReturnLocalStmt{Source: 2}}},
	}}
	call := func(res int) *ir.CallStmt {
		return &ir.CallStmt{Func: "f", Args: []ir.Operand{loc(0), loc(1)}, Result: ir.Local(res)}
	}
	p := policy([]string{"w", "before", "inside", "after"}, []*ir.Func{f},
		call(2),
		&ir.WithStmt{Local: 0, Value: str(0), Block: &ir.Block{Stmts: []ir.Stmt{call(3)}}},
		call(4),
		&ir.MakeObjectStmt{Target: 5},
		&ir.ObjectInsertStmt{Key: str(1), Value: loc(2), Object: 5},
		&ir.ObjectInsertStmt{Key: str(2), Value: loc(3), Object: 5},
		&ir.ObjectInsertStmt{Key: str(3), Value: loc(4), Object: 5},
		&ir.ResultSetAddStmt{Value: 5},
	)
	expectRows(t, p, `"in"`, `[{"after": "in", "before": "in", "inside": "w"}]`)
}

func TestWithUpsert(t *testing.T) {
	// with input.a.b as 1: copies on the way, creates what is missing, and
	// leaves the original input alone.
	p := policy([]string{"a", "b", "new", "old"}, nil,
		&ir.AssignVarStmt{Source: loc(0), Target: 3},
		&ir.MakeNumberIntStmt{Value: 1, Target: 4},
		&ir.WithStmt{Local: 0, Path: []int{0, 1}, Value: loc(4), Block: &ir.Block{Stmts: []ir.Stmt{
			&ir.AssignVarStmt{Source: loc(0), Target: 2},
		}}},
		&ir.MakeObjectStmt{Target: 5},
		&ir.ObjectInsertStmt{Key: str(2), Value: loc(2), Object: 5},
		&ir.ObjectInsertStmt{Key: str(3), Value: loc(0), Object: 5},
		&ir.ResultSetAddStmt{Value: 5},
	)
	expectRows(t, p, `{"a": {"c": 2}, "d": 3}`, `[{"new": {"a": {"b": 1, "c": 2}, "d": 3}, "old": {"a": {"c": 2}, "d": 3}}]`)
	expectRows(t, p, `{"a": 5}`, `[{"new": {"a": {"b": 1}}, "old": {"a": 5}}]`)

	// An undefined body makes the with statement undefined.
	undef := policy([]string{"x"}, nil,
		&ir.WithStmt{Local: 0, Value: str(0), Block: &ir.Block{Stmts: []ir.Stmt{&ir.IsObjectStmt{Source: loc(0)}}}},
		&ir.ResultSetAddStmt{Value: 0},
	)
	expectRows(t, undef, `{}`, `[]`)
}

func TestConflicts(t *testing.T) {
	once := policy([]string{"1.0"}, nil,
		&ir.MakeNumberIntStmt{Value: 1, Target: 3},
		&ir.AssignVarOnceStmt{Source: loc(3), Target: 2},
		&ir.MakeNumberRefStmt{Index: 0, Target: 4},
		&ir.AssignVarOnceStmt{Source: loc(4), Target: 2}, // equal: the first stays
		&ir.AssignVarOnceStmt{Source: loc(0), Target: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	expectRows(t, once, `1`, `[1]`)
	_, err := run(t, once, `2`)
	var te *topdown.Error
	if !errors.As(err, &te) || te.Code != topdown.ConflictErr || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("assign once 1 then 2: %v, want a conflict", err)
	}

	insert := policy([]string{"k"}, nil,
		&ir.MakeObjectStmt{Target: 2},
		&ir.ObjectInsertOnceStmt{Key: str(0), Value: boolean(true), Object: 2},
		&ir.ObjectInsertOnceStmt{Key: str(0), Value: loc(0), Object: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	expectRows(t, insert, `true`, `[{"k": true}]`)
	if _, err := run(t, insert, `false`); !errors.As(err, &te) || te.Code != topdown.ConflictErr {
		t.Fatalf("insert once true then false: %v, want a conflict", err)
	}
}

func TestValueStatements(t *testing.T) {
	p := policy([]string{"len", "dot", "x"}, nil,
		&ir.MakeObjectStmt{Target: 2},
		&ir.LenStmt{Source: loc(0), Target: 3},
		&ir.ObjectInsertStmt{Key: str(0), Value: loc(3), Object: 2},
		&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
			&ir.DotStmt{Source: loc(0), Key: str(2), Target: 4},
			&ir.ObjectInsertStmt{Key: str(1), Value: loc(4), Object: 2},
		}}}},
		&ir.ResultSetAddStmt{Value: 2},
	)
	expectRows(t, p, `{"x": 1, "y": 2}`, `[{"dot": 1, "len": 2}]`)
	expectRows(t, p, `{"x", "y", "z"}`, `[{"dot": "x", "len": 3}]`)
	expectRows(t, p, `[1]`, `[{"len": 1}]`)
	expectRows(t, p, `7`, `[{"len": 0}]`)

	// Constant sources have no members and no type of composite.
	for _, s := range []ir.Stmt{
		&ir.DotStmt{Source: str(0), Key: str(0), Target: 2},
		&ir.IsArrayStmt{Source: str(0)},
		&ir.IsObjectStmt{Source: boolean(true)},
		&ir.IsSetStmt{Source: str(0)},
		&ir.IsDefinedStmt{Source: 5},
	} {
		expectRows(t, policy([]string{"x"}, nil, s, &ir.ResultSetAddStmt{Value: 0}), `{"x": 1}`, `[]`)
	}

	merge := policy(nil, nil,
		&ir.AssignVarStmt{Source: loc(0), Target: 2},
		&ir.MakeObjectStmt{Target: 3},
		&ir.ObjectMergeStmt{A: 2, B: 0, Target: 4},
		&ir.ResultSetAddStmt{Value: 4},
	)
	expectRows(t, merge, `{"a": 1}`, `[{"a": 1}]`)
}

func TestCallDynamic(t *testing.T) {
	f := &ir.Func{Name: "g0.data.a.b", Path: []string{"g0", "a", "b"}, Params: []ir.Local{0, 1}, Return: 2, Blocks: []*ir.Block{
		{Stmts: []ir.Stmt{&ir.IsObjectStmt{Source: loc(0)}, &ir.AssignVarStmt{Source: loc(0), Target: 2}}},
		{Stmts: []ir.Stmt{&ir.ReturnLocalStmt{Source: 2}}},
	}}
	// From the call's block: no function is a break 0 (the second block
	// runs); an undefined result is a break 3 (everything is left).
	p := policy([]string{"g0", "a", "b", "fallback", "done"}, []*ir.Func{f},
		&ir.MakeObjectStmt{Target: 9},
		&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
			&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
				&ir.BlockStmt{Blocks: []*ir.Block{
					{Stmts: []ir.Stmt{
						&ir.DotStmt{Source: loc(0), Key: str(0), Target: 3},
						&ir.CallDynamicStmt{Args: []ir.Local{3, 1}, Path: []ir.Operand{str(0), str(1), loc(4)}, Result: 5},
						&ir.ObjectInsertStmt{Key: str(4), Value: loc(5), Object: 9},
						&ir.BreakStmt{Index: 1},
					}},
					{Stmts: []ir.Stmt{&ir.ObjectInsertStmt{Key: str(3), Value: boolean(true), Object: 9}}},
				}},
			}}}},
		}}}},
		&ir.ResultSetAddStmt{Value: 9},
	)
	// Local 4, the path's last element, is input.b.
	p.Plans.Plans[0].Blocks[0].Stmts = append([]ir.Stmt{&ir.DotStmt{Source: loc(0), Key: str(2), Target: 4}}, p.Plans.Plans[0].Blocks[0].Stmts...)
	expectRows(t, p, `{"g0": {"k": 1}, "b": "b"}`, `[{"done": {"k": 1}}]`)
	expectRows(t, p, `{"g0": {"k": 1}, "b": "c"}`, `[{"fallback": true}]`)
	expectRows(t, p, `{"g0": 7, "b": "b"}`, `[]`)
}

type strangeStmt struct{ ir.Location }

func TestCompileRejectsWhatItCannotRun(t *testing.T) {
	for name, p := range map[string]*ir.Policy{
		"unknown statement":            policy(nil, nil, &strangeStmt{}),
		"unknown function":             policy(nil, nil, &ir.CallStmt{Func: "nowhere", Result: 2}),
		"string index":                 policy(nil, nil, &ir.DotStmt{Source: loc(0), Key: str(3), Target: 2}),
		"no eval plan":                 {Static: &ir.Static{}, Plans: &ir.Plans{}},
		"number string index":          policy(nil, nil, &ir.MakeNumberRefStmt{Index: 0, Target: 2}),
		"negative number string index": policy([]string{"1"}, nil, &ir.MakeNumberRefStmt{Index: -1, Target: 2}),
		"call with too few args": policy(nil, []*ir.Func{{Name: "f", Params: []ir.Local{0, 1}, Return: 2, Blocks: []*ir.Block{{Stmts: []ir.Stmt{&ir.ReturnLocalStmt{Source: 2}}}}}},
			&ir.CallStmt{Func: "f", Args: []ir.Operand{loc(0)}, Result: 3}),
		"stateful built-in": func() *ir.Policy {
			p := policy(nil, nil, &ir.CallStmt{Func: "http.send", Args: []ir.Operand{loc(0)}, Result: 2})
			p.Static.BuiltinFuncs = []*ir.BuiltinFunc{{Name: "http.send", Decl: ast.HTTPSend.Decl}}
			return p
		}(),
	} {
		if _, err := Compile(p); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
}

func TestUnsupportedRego(t *testing.T) {
	for name, src := range map[string]string{
		"http.send": `package x
result := http.send({"method": "GET", "url": "http://127.0.0.1:1"})`,
		"mocked built-in": `package x
ok if glob.match("/a/*", ["/"], input.path)
result := v if v := ok with glob.match as true`,
	} {
		if _, err := preparePair(t, "data.x.result", module{name: "x.rego", src: src}); !isUnsupported(err) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
}

func TestCancel(t *testing.T) {
	p := scanPolicy(&ir.SetAddStmt{Value: loc(4), Set: 2})
	prog, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	c := topdown.NewCancel()
	c.Cancel()
	_, err = prog.Eval(EvalOptions{Input: ast.MustParseTerm(`[1, 2]`), Cancel: c})
	if err == nil || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("canceled scan: %v", err)
	}
	// A Cancel is honoured beside a context that can end but has not: the
	// caller's Cancel (the service's time limit) is not replaced by it.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	_, err = prog.Eval(EvalOptions{Context: ctx, Input: ast.MustParseTerm(`[1, 2]`), Cancel: c})
	if err == nil || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("canceled scan under a live context: %v", err)
	}
}

func init() {
	topdown.RegisterBuiltinFunc("regovm_test.fail", func(_ topdown.BuiltinContext, ops []*ast.Term, iter func(*ast.Term) error) error {
		if s, ok := ops[0].Value.(ast.String); ok && s == "halt" {
			return topdown.Halt{Err: errors.New("halted")}
		}
		if s, ok := ops[0].Value.(ast.String); ok && s == "panic" {
			panic("built-in bug")
		}
		return errors.New("failed")
	})
	// A built-in whose result keeps its operands slice, as OPA's may.
	topdown.RegisterBuiltinFunc("regovm_test.keep", func(_ topdown.BuiltinContext, ops []*ast.Term, iter func(*ast.Term) error) error {
		return iter(ast.NewTerm(ast.NewArray(ops...)))
	})
}

// TestBuiltinKeepsItsArguments: a topdown built-in gets an arguments
// slice of its own, so a result that keeps it is not rewritten by the
// next call (native built-ins share one scratch slice; topdown's must
// not).
func TestBuiltinKeepsItsArguments(t *testing.T) {
	p := policy([]string{"a", "b"}, nil,
		&ir.CallStmt{Func: "regovm_test.keep", Args: []ir.Operand{str(0)}, Result: 2},
		&ir.CallStmt{Func: "regovm_test.keep", Args: []ir.Operand{str(1)}, Result: 3},
		&ir.MakeArrayStmt{Capacity: 2, Target: 4},
		&ir.ArrayAppendStmt{Value: loc(2), Array: 4},
		&ir.ArrayAppendStmt{Value: loc(3), Array: 4},
		&ir.ResultSetAddStmt{Value: 4},
	)
	p.Static.BuiltinFuncs = []*ir.BuiltinFunc{{Name: "regovm_test.keep", Decl: types.NewFunction(types.Args(types.S), types.NewArray(nil, types.S))}}
	expectRows(t, p, "", `[[["a"], ["b"]]]`)
}

func TestBuiltinErrors(t *testing.T) {
	p := policy([]string{"halt", "fail"}, nil,
		&ir.CallStmt{Func: "regovm_test.fail", Args: []ir.Operand{loc(0)}, Result: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	p.Static.BuiltinFuncs = []*ir.BuiltinFunc{{Name: "regovm_test.fail", Decl: types.NewFunction(types.Args(types.S), types.B)}}
	expectRows(t, p, `"fail"`, `[]`) // an error is undefined
	if _, err := run(t, p, `"halt"`); err == nil || !strings.Contains(err.Error(), "halted") || errors.Is(err, ErrUnsupported) {
		t.Fatalf("halt: %v, want the halt's error", err)
	}
	// A panic is a VM failure: topdown decides.
	if _, err := run(t, p, `"panic"`); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("panic: %v, want ErrUnsupported", err)
	}
	expectRows(t, p, `"fail"`, `[]`) // the pool still works
}

func TestReturnLocalValue(t *testing.T) {
	// The function returns the ReturnLocalStmt's source, not its Return.
	f := &ir.Func{Name: "f", Params: []ir.Local{0, 1, 2}, Return: 3, Blocks: []*ir.Block{
		{Stmts: []ir.Stmt{&ir.AssignVarStmt{Source: loc(0), Target: 3}}},
		{Stmts: []ir.Stmt{&ir.ReturnLocalStmt{Source: 2}}},
	}}
	p := policy([]string{"arg"}, []*ir.Func{f},
		&ir.CallStmt{Func: "f", Args: []ir.Operand{loc(0), loc(1), str(0)}, Result: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	expectRows(t, p, `"input"`, `["arg"]`)
}

func TestEvalValueShape(t *testing.T) {
	ctx := context.Background()
	mod := rego.Module("x.rego", "package x\nimport rego.v1\nallow if input.ok\n")
	for _, c := range []struct {
		query  string
		single bool
	}{
		{"data.x.allow", true},
		{"data.x", true},
		{"a := data.x.allow; b := 1", false},
	} {
		pl, err := Plan(ctx, rego.Query(c.query), mod)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := Compile(pl)
		if err != nil {
			t.Fatal(err)
		}
		if prog.SingleValue() != c.single {
			t.Errorf("%s: SingleValue %v, want %v", c.query, prog.SingleValue(), c.single)
		}
		v, err := prog.EvalValue(EvalOptions{Input: ast.MustParseTerm(`{"ok": true}`)})
		switch {
		case !c.single && !errors.Is(err, ErrUnsupported):
			t.Errorf("%s: EvalValue %v %v, want ErrUnsupported", c.query, v, err)
		case c.single && (err != nil || v == nil):
			t.Errorf("%s: EvalValue %v %v", c.query, v, err)
		}
	}
}

// TestCompileIncompletePolicy: a plan missing its static section or its
// plans is refused as unsupported (the caller then evaluates with
// topdown), not compiled until something dereferences nil.
func TestCompileIncompletePolicy(t *testing.T) {
	for name, p := range map[string]*ir.Policy{
		"nil":       nil,
		"empty":     {},
		"no plans":  {Static: &ir.Static{}, Funcs: &ir.Funcs{}},
		"no static": {Plans: &ir.Plans{}, Funcs: &ir.Funcs{}},
	} {
		if _, err := Compile(p); !isUnsupported(err) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
}

// TestCompileStringIndexOutOfRange: a plan naming a string past the
// static table (or before it) is refused as unsupported, not compiled
// into a read past the table.
func TestCompileStringIndexOutOfRange(t *testing.T) {
	for _, i := range []int{-1, 2} {
		p := policy([]string{"a", "b"}, nil,
			&ir.MakeObjectStmt{Target: 2},
			&ir.ObjectInsertStmt{Key: str(i), Value: boolean(true), Object: 2},
			&ir.ResultSetAddStmt{Value: 2},
		)
		if _, err := Compile(p); !isUnsupported(err) {
			t.Errorf("string index %d of 2: %v, want ErrUnsupported", i, err)
		}
		p = policy([]string{"a", "b"}, nil,
			&ir.WithStmt{Local: 0, Path: []int{0, i}, Value: boolean(true), Block: &ir.Block{Stmts: []ir.Stmt{&ir.ResultSetAddStmt{Value: 0}}}},
		)
		if _, err := Compile(p); !isUnsupported(err) {
			t.Errorf("with path string %d of 2: %v, want ErrUnsupported", i, err)
		}
	}
}

// TestLocationNamesItsFile: a statement's location names the plan's file
// when its index is in the static table, and no file when it is not.
func TestLocationNamesItsFile(t *testing.T) {
	c := &compiler{prog: &Program{files: []string{"authz.rego"}}}
	for _, tc := range []struct {
		file int
		want string
	}{{0, "authz.rego"}, {1, ""}, {-1, ""}} {
		if got := c.location(&ir.Location{File: tc.file, Row: 3, Col: 5}); got.File != tc.want || got.Row != 3 || got.Col != 5 {
			t.Errorf("file index %d: %+v, want file %q at 3:5", tc.file, got, tc.want)
		}
	}
}

// TestBreakOutOfNot: a break inside a negated block counts that block as
// one level, as a BlockStmt's blocks are counted: break 1 leaves the
// negated block and the block holding the NotStmt.
func TestBreakOutOfNot(t *testing.T) {
	p := policy([]string{"x", "y", "z"}, nil,
		&ir.MakeObjectStmt{Target: 2},
		&ir.BlockStmt{Blocks: []*ir.Block{
			{Stmts: []ir.Stmt{
				&ir.NotStmt{Block: &ir.Block{Stmts: []ir.Stmt{&ir.BreakStmt{Index: 1}}}},
				&ir.ObjectInsertStmt{Key: str(0), Value: boolean(true), Object: 2},
			}},
			{Stmts: []ir.Stmt{&ir.ObjectInsertStmt{Key: str(2), Value: boolean(true), Object: 2}}},
		}},
		&ir.ResultSetAddStmt{Value: 2},
	)
	expectRows(t, p, "", `[{"z": true}]`)
}

// TestCompareWithUndefined: an equality or inequality with one operand
// undefined (a local never set) ends its block, as any statement reading
// an undefined local does, whichever side it is on.
func TestCompareWithUndefined(t *testing.T) {
	for name, mk := range map[string]func(a, b ir.Operand) ir.Stmt{
		"equal":     func(a, b ir.Operand) ir.Stmt { return &ir.EqualStmt{A: a, B: b} },
		"not equal": func(a, b ir.Operand) ir.Stmt { return &ir.NotEqualStmt{A: a, B: b} },
	} {
		for _, undefinedFirst := range []bool{true, false} {
			a, b := loc(5), str(0)
			if !undefinedFirst {
				a, b = b, a
			}
			p := policy([]string{"x"}, nil,
				&ir.MakeObjectStmt{Target: 2},
				&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
					mk(a, b),
					&ir.ObjectInsertStmt{Key: str(0), Value: boolean(true), Object: 2},
				}}}},
				&ir.ResultSetAddStmt{Value: 2},
			)
			t.Run(fmt.Sprintf("%s, undefined first %v", name, undefinedFirst), func(t *testing.T) {
				expectRows(t, p, "", `[{}]`)
			})
		}
	}
}

// TestAppendToWhatIsNoCollection: an array append or set add whose
// target is not an array or set, or whose value is undefined, is an
// internal error that falls back to topdown (the planner never emits
// one), not a panic or a collection holding nil. The constant folder
// panicked on the first kind until it checked the literal's type.
func TestAppendToWhatIsNoCollection(t *testing.T) {
	for name, stmts := range map[string][]ir.Stmt{
		"append to an object":        {&ir.MakeObjectStmt{Target: 2}, &ir.ArrayAppendStmt{Value: boolean(true), Array: 2}},
		"append an undefined":        {&ir.MakeArrayStmt{Capacity: 1, Target: 2}, &ir.ArrayAppendStmt{Value: loc(7), Array: 2}},
		"add to an object":           {&ir.MakeObjectStmt{Target: 2}, &ir.SetAddStmt{Value: boolean(true), Set: 2}},
		"add an undefined to a set":  {&ir.MakeSetStmt{Target: 2}, &ir.SetAddStmt{Value: loc(7), Set: 2}},
		"insert into an array":       {&ir.MakeArrayStmt{Capacity: 1, Target: 2}, &ir.ObjectInsertStmt{Key: boolean(true), Value: boolean(true), Object: 2}},
		"append to a set":            {&ir.MakeSetStmt{Target: 2}, &ir.ArrayAppendStmt{Value: boolean(true), Array: 2}},
		"insert an undefined value":  {&ir.MakeObjectStmt{Target: 2}, &ir.ObjectInsertStmt{Key: boolean(true), Value: loc(7), Object: 2}},
		"insert at an undefined key": {&ir.MakeObjectStmt{Target: 2}, &ir.ObjectInsertStmt{Key: loc(7), Value: boolean(true), Object: 2}},
		"insert once into an array":  {&ir.MakeArrayStmt{Capacity: 1, Target: 2}, &ir.ObjectInsertOnceStmt{Key: boolean(true), Value: boolean(true), Object: 2}},
		"insert once an undefined":   {&ir.MakeObjectStmt{Target: 2}, &ir.ObjectInsertOnceStmt{Key: boolean(true), Value: loc(7), Object: 2}},
	} {
		p := policy(nil, nil, append(stmts, &ir.ResultSetAddStmt{Value: 2})...)
		_, err := run(t, p, "")
		var te *topdown.Error
		if !errors.As(err, &te) || te.Code != topdown.InternalErr || !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want an internal error falling back to topdown", name, err)
		}
		// The evaluator turns a panic into the same kind of error: the
		// statement itself must have refused.
		if err != nil && strings.Contains(err.Error(), "panic") {
			t.Errorf("%s: %v, want the statement's own error, not a recovered panic", name, err)
		}
	}
}

// TestBreakOutOfWith: a with statement's body is one block level, as OPA's
// Wasm compiler nests it (internal/compiler/wasm/wasm.go, compileWithStmt:
// the body is an instruction.Block, followed by a br_if 0 on its
// undefined flag). Break 0 in the body leaves the body, and so the with
// statement is undefined and its block ends; break 1 leaves the block
// holding the with statement, and the BlockStmt goes on with its next
// block; break 2 leaves that BlockStmt too.
func TestBreakOutOfWith(t *testing.T) {
	for index, want := range map[uint32]string{
		0: `[{"y": true, "z": true}]`,
		1: `[{"y": true, "z": true}]`,
		2: `[{"y": true}]`,
	} {
		body := []ir.Stmt{&ir.BreakStmt{Index: index}}
		if index == 0 {
			// Break 0 ends the body; the with block's own block then
			// ends because the with statement is undefined.
			body = []ir.Stmt{&ir.BreakStmt{Index: 0}, &ir.ObjectInsertStmt{Key: str(0), Value: boolean(true), Object: 2}}
		}
		p := policy([]string{"x", "y", "z"}, nil,
			&ir.MakeObjectStmt{Target: 2},
			&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
				&ir.ObjectInsertStmt{Key: str(1), Value: boolean(true), Object: 2},
				&ir.BlockStmt{Blocks: []*ir.Block{
					{Stmts: []ir.Stmt{
						&ir.WithStmt{Local: 0, Value: str(0), Block: &ir.Block{Stmts: body}},
						&ir.ObjectInsertStmt{Key: str(0), Value: boolean(true), Object: 2},
					}},
					{Stmts: []ir.Stmt{&ir.ObjectInsertStmt{Key: str(2), Value: boolean(true), Object: 2}}},
				}},
			}}}},
			&ir.ResultSetAddStmt{Value: 2},
		)
		t.Run(fmt.Sprintf("break %d", index), func(t *testing.T) {
			expectRows(t, p, "", want)
		})
	}
}

// TestReturnInsideWith: a ReturnLocalStmt in a with body returns from the
// function, the with statement's input restored; nothing after it in the
// function runs.
func TestReturnInsideWith(t *testing.T) {
	fn := &ir.Func{
		Name: "g0.data.f", Params: []ir.Local{0, 1}, Return: 2,
		Blocks: []*ir.Block{
			{Stmts: []ir.Stmt{
				&ir.WithStmt{Local: 0, Value: str(0), Block: &ir.Block{Stmts: []ir.Stmt{
					&ir.AssignVarStmt{Source: boolean(true), Target: 2},
					&ir.ReturnLocalStmt{Source: 2},
				}}},
			}},
			{Stmts: []ir.Stmt{
				&ir.AssignVarStmt{Source: boolean(false), Target: 2},
				&ir.ReturnLocalStmt{Source: 2},
			}},
		},
	}
	p := policy([]string{"x"}, []*ir.Func{fn},
		&ir.CallStmt{Func: "g0.data.f", Args: []ir.Operand{loc(0), loc(1)}, Result: 3},
		&ir.MakeObjectStmt{Target: 2},
		&ir.ObjectInsertStmt{Key: str(0), Value: loc(3), Object: 2},
		&ir.ResultSetAddStmt{Value: 2},
	)
	expectRows(t, p, `{"a": 1}`, `[{"x": true}]`)
}

// TestCallDynamicMisses: a dynamic call whose path does not lead to a
// function of as many parameters as it passes is undefined (break 0), as
// the Wasm mapping lookup: a path ending between functions, a function
// given too few arguments, and a key that is no string, even where a
// function's path has an empty segment (a number key is not the string
// "").
func TestCallDynamicMisses(t *testing.T) {
	ret := func(name string, path ...string) *ir.Func {
		return &ir.Func{Name: name, Path: path, Params: []ir.Local{0, 1}, Return: 2, Blocks: []*ir.Block{
			{Stmts: []ir.Stmt{&ir.AssignVarStmt{Source: boolean(true), Target: 2}}},
			{Stmts: []ir.Stmt{&ir.ReturnLocalStmt{Source: 2}}},
		}}
	}
	funcs := []*ir.Func{ret("g0.data.a.b", "g0", "a", "b"), ret("g0.data.empty", "g0", "")}
	call := func(args []ir.Local, path ...ir.Operand) *ir.Policy {
		return policy([]string{"g0", "a", "b", "fallback", "done", "k"}, funcs,
			&ir.MakeObjectStmt{Target: 9},
			&ir.DotStmt{Source: loc(0), Key: str(5), Target: 4},
			&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
				&ir.BlockStmt{Blocks: []*ir.Block{
					{Stmts: []ir.Stmt{
						&ir.CallDynamicStmt{Args: args, Path: path, Result: 5},
						&ir.ObjectInsertStmt{Key: str(4), Value: loc(5), Object: 9},
						&ir.BreakStmt{Index: 1},
					}},
					{Stmts: []ir.Stmt{&ir.ObjectInsertStmt{Key: str(3), Value: boolean(true), Object: 9}}},
				}},
			}}}},
			&ir.ResultSetAddStmt{Value: 9},
		)
	}
	const fallback, done = `[{"fallback": true}]`, `[{"done": true}]`
	t.Run("the function", func(t *testing.T) {
		expectRows(t, call([]ir.Local{0, 1}, str(0), str(1), str(2)), `{"k": 1}`, done)
	})
	t.Run("a path ending between functions", func(t *testing.T) {
		expectRows(t, call([]ir.Local{0, 1}, str(0), str(1)), `{"k": 1}`, fallback)
	})
	t.Run("too few arguments", func(t *testing.T) {
		expectRows(t, call([]ir.Local{0}, str(0), str(1), str(2)), `{"k": 1}`, fallback)
	})
	t.Run("an empty segment", func(t *testing.T) {
		expectRows(t, call([]ir.Local{0, 1}, str(0), loc(4)), `{"k": ""}`, done)
	})
	t.Run("a number key", func(t *testing.T) {
		expectRows(t, call([]ir.Local{0, 1}, str(0), loc(4)), `{"k": 0}`, fallback)
	})
}

// TestMockedBuiltinAnywhere: a `with` replacing a built-in sends the
// policy to topdown wherever it is: inside a comprehension's body (the
// walk goes into nested expressions) and in any module of many (the
// compiler's modules are a map, so with sixteen of them the one holding
// the `with` is visited first, and so would hide a walk that stopped
// after the first module, only one time in sixteen).
func TestMockedBuiltinAnywhere(t *testing.T) {
	t.Run("in a comprehension", func(t *testing.T) {
		src := `package x
ok if glob.match("/a/*", ["/"], input.path)
result := [v | v := ok with glob.match as true]`
		if _, err := preparePair(t, "data.x.result", module{name: "x.rego", src: src}); !isUnsupported(err) {
			t.Fatalf("%v, want ErrUnsupported", err)
		}
	})
	t.Run("in one module of sixteen", func(t *testing.T) {
		mods := []module{{name: "x.rego", src: `package x
ok if glob.match("/a/*", ["/"], input.path)
result := v if v := ok with glob.match as true`}}
		for i := range 15 {
			mods = append(mods, module{name: fmt.Sprintf("y%d.rego", i), src: fmt.Sprintf("package y%d\nr := %d", i, i)})
		}
		if _, err := preparePair(t, "data.x.result", mods...); !isUnsupported(err) {
			t.Fatalf("%v, want ErrUnsupported", err)
		}
	})
}

// TestObjectMerge holds ObjectMergeStmt to opa_value_merge (OPA's
// wasm/src/value.c): a recursive merge of two objects, the first winning
// where either side is not an object; an undefined side gives the other.
func TestObjectMerge(t *testing.T) {
	p := policy([]string{"a", "b"}, nil,
		&ir.DotStmt{Source: loc(0), Key: str(0), Target: 2},
		&ir.DotStmt{Source: loc(0), Key: str(1), Target: 3},
		&ir.ObjectMergeStmt{A: 2, B: 3, Target: 4},
		&ir.ResultSetAddStmt{Value: 4},
	)
	for _, c := range []struct{ input, want string }{
		{`{"a": {"k": 1, "n": {"x": 1}, "s": {"p": 1}, "t": 1}, "b": {"k": 2, "m": 3, "n": {"y": 2}, "s": 5, "t": {"q": 1}}}`,
			`[{"k": 1, "m": 3, "n": {"x": 1, "y": 2}, "s": {"p": 1}, "t": 1}]`},
		{`{"a": {}, "b": {"m": 3}}`, `[{"m": 3}]`},
		{`{"a": {"k": 1}, "b": {}}`, `[{"k": 1}]`},
		{`{"a": 1, "b": {"m": 3}}`, `[1]`},
		{`{"a": {"k": 1}, "b": 2}`, `[{"k": 1}]`},
	} {
		expectRows(t, p, c.input, c.want)
	}
	// An undefined side (a local never set) gives the other one.
	for _, ab := range [][2]ir.Local{{7, 3}, {2, 7}} {
		undefined := policy([]string{"a", "b"}, nil,
			&ir.DotStmt{Source: loc(0), Key: str(0), Target: 2},
			&ir.DotStmt{Source: loc(0), Key: str(1), Target: 3},
			&ir.ObjectMergeStmt{A: ab[0], B: ab[1], Target: 4},
			&ir.ResultSetAddStmt{Value: 4},
		)
		want := `[{"b": 1}]`
		if ab[0] == 2 {
			want = `[{"a": 1}]`
		}
		expectRows(t, undefined, `{"a": {"a": 1}, "b": {"b": 1}}`, want)
	}
}

// TestValuePlanShapes: EvalValue's plan replaces a row object R = {"x": V}
// by V only when V is a local and R serves nothing else; a constant V, or
// R named by another statement (an assignment, a call's argument: the
// statement's locals are found in its slices too), keeps the rows whole.
func TestValuePlanShapes(t *testing.T) {
	id := &ir.Func{Name: "g0.data.id", Params: []ir.Local{0, 1, 2}, Return: 3, Blocks: []*ir.Block{
		{Stmts: []ir.Stmt{&ir.AssignVarStmt{Source: loc(2), Target: 3}}},
		{Stmts: []ir.Stmt{&ir.ReturnLocalStmt{Source: 3}}},
	}}
	row := func(value ir.Operand, after ...ir.Stmt) *ir.Policy {
		return policy([]string{"x"}, []*ir.Func{id}, append([]ir.Stmt{
			&ir.MakeObjectStmt{Target: 2},
			&ir.ObjectInsertStmt{Key: str(0), Value: value, Object: 2},
			&ir.ResultSetAddStmt{Value: 2},
		}, after...)...)
	}
	for name, c := range map[string]struct {
		p      *ir.Policy
		single bool
	}{
		"a local":           {row(loc(0)), true},
		"a constant":        {row(boolean(true)), false},
		"the row assigned":  {row(loc(0), &ir.AssignVarStmt{Source: loc(2), Target: 5}), false},
		"the row passed on": {row(loc(0), &ir.CallStmt{Func: "g0.data.id", Args: []ir.Operand{loc(0), loc(1), loc(2)}, Result: 5}), false},
	} {
		t.Run(name, func(t *testing.T) {
			prog, err := Compile(c.p)
			if err != nil {
				t.Fatal(err)
			}
			if prog.SingleValue() != c.single {
				t.Fatalf("SingleValue %v, want %v", prog.SingleValue(), c.single)
			}
			if c.single {
				v, err := prog.EvalValue(EvalOptions{Input: ast.MustParseTerm(`{"a": 1}`)})
				if err != nil || v.String() != `{"a": 1}` {
					t.Fatalf("EvalValue %v %v", v, err)
				}
			}
		})
	}
}

// TestRecordRuns: an object literal of non-constant values (a record)
// that ends its block, that is a row at once, or that is used later.
func TestRecordRuns(t *testing.T) {
	in := &ir.DotStmt{Source: loc(0), Key: str(2), Target: 3}
	for name, c := range map[string]struct {
		p    *ir.Policy
		want string
	}{
		"ending its block": {policy([]string{"x", "y", "a"}, nil, in,
			&ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
				&ir.MakeObjectStmt{Target: 2},
				&ir.ObjectInsertStmt{Key: str(0), Value: loc(3), Object: 2},
				&ir.ObjectInsertStmt{Key: str(1), Value: loc(0), Object: 2},
			}}}},
			&ir.ResultSetAddStmt{Value: 2}), `[{"x": 1, "y": {"a": 1}}]`},
		"a row at once": {policy([]string{"x", "y", "a"}, nil, in,
			&ir.MakeObjectStmt{Target: 2},
			&ir.ObjectInsertStmt{Key: str(0), Value: loc(3), Object: 2},
			&ir.ObjectInsertStmt{Key: str(1), Value: loc(0), Object: 2},
			&ir.ResultSetAddStmt{Value: 2}), `[{"x": 1, "y": {"a": 1}}]`},
		"used later": {policy([]string{"x", "y", "a"}, nil, in,
			&ir.MakeObjectStmt{Target: 2},
			&ir.ObjectInsertStmt{Key: str(0), Value: loc(3), Object: 2},
			&ir.ObjectInsertStmt{Key: str(1), Value: loc(0), Object: 2},
			&ir.DotStmt{Source: loc(2), Key: str(0), Target: 4},
			&ir.MakeArrayStmt{Capacity: 2, Target: 5},
			&ir.ArrayAppendStmt{Value: loc(4), Array: 5},
			&ir.ArrayAppendStmt{Value: loc(2), Array: 5},
			&ir.ResultSetAddStmt{Value: 5}), `[[1, {"x": 1, "y": {"a": 1}}]]`},
	} {
		t.Run(name, func(t *testing.T) { expectRows(t, c.p, `{"a": 1}`, c.want) })
	}
}
