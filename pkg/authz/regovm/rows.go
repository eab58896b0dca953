package regovm

import (
	"reflect"

	"github.com/open-policy-agent/opa/v1/ir"
)

// The plan of a query of one variable ends each solution with
//
//	MakeObject R; ObjectInsert {"<var>": V} into R; ResultSetAdd R
//
// For EvalValue the plan is compiled a second time with that sequence
// replaced by adding V itself: the same rows, minus an object per
// evaluation, when R serves nothing else.

// valuePlan compiles pl for EvalValue, or returns nil when some row of
// the plan is not of that shape.
func (c *compiler) valuePlan(pl *ir.Plan) *function {
	adds := 0
	walkStmts(pl.Blocks, func(s ir.Stmt) {
		if _, ok := s.(*ir.ResultSetAddStmt); ok {
			adds++
		}
	})
	if adds == 0 {
		return nil
	}
	c.valueRows, c.rowsRewritten = 1, 0
	c.rowUses = localUses(pl.Blocks)
	defer func() { c.valueRows, c.rowUses = 0, nil }()
	fn := &function{name: pl.Name, memo: -1}
	if err := c.compileFunc(fn, []ir.Local{ir.Input, ir.Data}, -1, pl.Blocks); err != nil {
		return nil
	}
	if c.rowsRewritten != adds {
		return nil
	}
	return fn
}

// valueRow matches the row sequence at stmts[i] and returns V.
func (c *compiler) valueRow(stmts []ir.Stmt, i int) (ir.Local, bool) {
	if c.valueRows == 0 || i+2 >= len(stmts) {
		return 0, false
	}
	mk, ok1 := stmts[i].(*ir.MakeObjectStmt)
	ins, ok2 := stmts[i+1].(*ir.ObjectInsertStmt)
	add, ok3 := stmts[i+2].(*ir.ResultSetAddStmt)
	if !ok1 || !ok2 || !ok3 || ins.Object != mk.Target || add.Value != mk.Target {
		return 0, false
	}
	if _, ok := ins.Key.Value.(ir.StringIndex); !ok {
		return 0, false
	}
	v, ok := ins.Value.Value.(ir.Local)
	if !ok || v == mk.Target || c.rowUses[mk.Target] != 3 {
		return 0, false
	}
	return v, true
}

// localUses counts, per local, the statements that name it.
func localUses(blocks []*ir.Block) map[ir.Local]int {
	uses := map[ir.Local]int{}
	walkStmts(blocks, func(s ir.Stmt) {
		seen := map[ir.Local]bool{}
		collectLocals(reflect.ValueOf(s).Elem(), seen)
		for l := range seen {
			uses[l]++
		}
	})
	return uses
}

var (
	localType   = reflect.TypeOf(ir.Local(0))
	operandType = reflect.TypeOf(ir.Operand{})
	blockType   = reflect.TypeOf(&ir.Block{})
)

// collectLocals finds the locals among a statement's fields (not those of
// its nested blocks, which walkStmts visits as statements of their own).
func collectLocals(v reflect.Value, seen map[ir.Local]bool) {
	switch {
	case v.Type() == localType:
		seen[ir.Local(v.Int())] = true
	case v.Type() == operandType:
		if l, ok := v.Interface().(ir.Operand).Value.(ir.Local); ok {
			seen[l] = true
		}
	case v.Type() == blockType:
	case v.Kind() == reflect.Slice:
		if v.Type().Elem() == blockType.Elem() || v.Type().Elem() == blockType {
			return
		}
		for i := 0; i < v.Len(); i++ {
			collectLocals(v.Index(i), seen)
		}
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				collectLocals(v.Field(i), seen)
			}
		}
	}
}
