package regovm

import (
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// recordModule builds an object literal with constant string keys (a
// record in the VM) and uses it in every way: members by string and other
// keys, as a whole, in built-ins, comparisons, iteration, as a function's
// (memoized rule's) value and through `with`. Each rule is a query of its
// own, so that one rule's plan cannot keep the others from having records.
const recordModule = `package rec

r := {"valid": input.v, "payload": input.p}

s := {"a": r, "b": [r]}

sub := r.payload.sub
whole := r
cnt := count(r)
kv := [[k, v] | some k, v in r]
dyn := r[input.k]
eq if r == {"valid": input.v, "payload": input.p}
obj if is_object(r)
nested := [s.a.payload, s.b[0].valid]
withv := x if x := r.valid with input.v as "replaced"
union := object.union(r, {"z": 1})
missing if r[input.missing]
twice := [r, r]
`

func TestRecordMatchesTopdown(t *testing.T) {
	for _, rule := range []string{"sub", "whole", "cnt", "kv", "dyn", "eq", "obj", "nested", "withv", "union", "missing", "twice"} {
		p, err := preparePair(t, "data.rec."+rule, module{name: "rec.rego", src: recordModule})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range p.vm.funcs {
			for _, b := range f.blocks {
				n += countRecords(b)
			}
		}
		if n == 0 {
			t.Errorf("%s: no record in the plan", rule)
		}
		for _, in := range []string{
			`{"v": true, "p": {"sub": "x"}}`,
			`{"v": false, "p": 1}`,
			`{"p": {"sub": [1, 2]}}`,
			`{"v": 1, "k": 1}`, `{"v": 2, "k": "valid"}`, `{"v": 3, "k": true, "missing": "x"}`,
			`{}`,
			`[1]`,
			`{"v": {"a": 1.0}, "p": {"sub": {"k": 1}}}`,
		} {
			if err := p.compare(ast.MustParseTerm(in)); err != nil {
				t.Errorf("%s: input %s: %v", rule, in, err)
			}
		}
	}
}

func countRecords(b *block) int {
	n := 0
	for _, s := range b.stmts {
		switch s := s.(type) {
		case *sMakeRecord:
			n++
		case *sBlock:
			for _, x := range s.blocks {
				n += countRecords(x)
			}
		case *sScan:
			n += countRecords(s.body)
		case *sNot:
			n += countRecords(s.body)
		case *sWith:
			n += countRecords(s.body)
		}
	}
	return n
}

func TestRecordOnlyForLiteralsNothingInsertsInto(t *testing.T) {
	insert := func(key ir.Operand) ir.Stmt { return &ir.ObjectInsertStmt{Key: key, Value: loc(0), Object: 2} }
	for name, c := range map[string]struct {
		stmts  []ir.Stmt
		record bool
	}{
		"record":       {[]ir.Stmt{&ir.MakeObjectStmt{Target: 2}, insert(str(0)), insert(str(1)), &ir.AssignVarStmt{Source: loc(2), Target: 3}, &ir.ResultSetAddStmt{Value: 3}}, true},
		"row":          {[]ir.Stmt{&ir.MakeObjectStmt{Target: 2}, insert(str(0)), &ir.ResultSetAddStmt{Value: 2}}, false},
		"duplicate":    {[]ir.Stmt{&ir.MakeObjectStmt{Target: 2}, insert(str(0)), insert(str(0)), &ir.AssignVarStmt{Source: loc(2), Target: 3}, &ir.ResultSetAddStmt{Value: 3}}, false},
		"bool key":     {[]ir.Stmt{&ir.MakeObjectStmt{Target: 2}, insert(boolean(true)), &ir.AssignVarStmt{Source: loc(2), Target: 3}, &ir.ResultSetAddStmt{Value: 3}}, false},
		"local key":    {[]ir.Stmt{&ir.MakeObjectStmt{Target: 2}, insert(loc(0)), &ir.AssignVarStmt{Source: loc(2), Target: 3}, &ir.ResultSetAddStmt{Value: 3}}, false},
		"later insert": {[]ir.Stmt{&ir.MakeObjectStmt{Target: 2}, insert(str(0)), &ir.NopStmt{}, insert(str(1)), &ir.AssignVarStmt{Source: loc(2), Target: 3}, &ir.ResultSetAddStmt{Value: 3}}, false},
	} {
		prog, err := Compile(policy([]string{"k", "v"}, nil, c.stmts...))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, got := prog.eval.blocks[0].stmts[0].(*sMakeRecord)
		if got != c.record {
			t.Errorf("%s: record %v, want %v", name, got, c.record)
		}
		for _, in := range []string{`1`, `{"x": [1]}`} {
			rows, err := prog.Eval(EvalOptions{Input: ast.MustParseTerm(in)})
			if err != nil || len(rows) != 1 || !strings.Contains(rows[0].String(), in) {
				t.Errorf("%s: input %s: rows %v %v", name, in, rows, err)
			}
			if _, lazy := rows[0].Value.(Lazy); lazy {
				t.Errorf("%s: a row is a Lazy", name)
			}
		}
	}
}

func TestRecordDotIsTheObjectsGet(t *testing.T) {
	s := &sMakeRecord{keys: []string{"a", "1", "b", "c", "d"}}
	for _, k := range s.keys {
		s.keyTerms = append(s.keyTerms, ast.StringTerm(k))
	}
	term, r := newRecord(s)
	for i := range r.vals {
		r.vals[i] = ast.IntNumberTerm(i)
	}
	obj := r.Materialize().Value.(ast.Object)
	if obj.Len() != 5 || term.Value.Compare(obj) != 0 || obj.Compare(materialize(term).Value) != 0 {
		t.Fatalf("materialized %v", obj)
	}
	for _, k := range []*ast.Term{ast.StringTerm("a"), ast.StringTerm("d"), ast.StringTerm("1"), ast.IntNumberTerm(1), ast.BooleanTerm(true), ast.StringTerm("z"), ast.NullTerm()} {
		fresh, _ := newRecord(s)
		fresh.Value.(*record).vals = r.vals // before and after materializing
		for _, rec := range []*record{fresh.Value.(*record), r} {
			if got, want := rec.Dot(k), obj.Get(k); got != want {
				t.Errorf("Dot(%v) = %v, Get = %v", k, got, want)
			}
		}
	}
}
