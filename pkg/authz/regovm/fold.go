package regovm

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// Constant folding of composite literals: the planner builds a literal
// such as {"secret": "secret"} or ["/"] with a Make statement followed by
// inserts of constants, on every evaluation. When nothing can modify that
// value afterwards, the VM builds it once at Compile time and shares it.
//
// Sharing is safe only if no mutation (insert, append, add) can reach a
// shared value. A mutation reaches only what its target local holds, so
// folding is enabled only when, in every function of the plan, each local
// that is mutated is written by Make statements alone (not a param, not
// assigned from another local, not a call's result): then every mutation
// hits a value its own Make created. And a literal is folded only when all
// the mutations of its local in the function are its own constant inserts.

// foldInfo is the analysis of one function body.
type foldInfo struct {
	enabled   bool
	mutations map[ir.Local]int // number of mutating statements per target
	// inRuns counts, per target, the mutations that belong to a run: the
	// statements right after a Make of that target, all mutating it. When
	// every mutation of a local is in a run, each one hits the value its
	// own run's Make created, so each run can be folded on its own (the
	// planner reuses a literal's local in every rule body of a function).
	inRuns map[ir.Local]int
	// inGroups counts, per target, the mutations in a construction
	// group: a stretch of Make and mutating statements, and of statements
	// that look into no value (inGroup), in which the target was made
	// before (nested literals are built this way: all Makes, then the
	// inserts, innermost first). See pathcache.go.
	inGroups map[ir.Local]int
}

// mutationTarget returns the local a statement mutates in place.
func mutationTarget(s ir.Stmt) (ir.Local, bool) {
	switch s := s.(type) {
	case *ir.ObjectInsertStmt:
		return s.Object, true
	case *ir.ObjectInsertOnceStmt:
		return s.Object, true
	case *ir.ArrayAppendStmt:
		return s.Array, true
	case *ir.SetAddStmt:
		return s.Set, true
	}
	return 0, false
}

// writes calls w for every local a statement assigns, with whether the
// assignment is a Make (a fresh composite value).
func writes(s ir.Stmt, w func(l ir.Local, fresh bool)) {
	switch s := s.(type) {
	case *ir.MakeObjectStmt:
		w(s.Target, true)
	case *ir.MakeArrayStmt:
		w(s.Target, true)
	case *ir.MakeSetStmt:
		w(s.Target, true)
	case *ir.ScanStmt:
		w(s.Key, false)
		w(s.Value, false)
	case *ir.WithStmt:
		w(s.Local, false)
	case *ir.CallStmt:
		w(s.Result, false)
	case *ir.CallDynamicStmt:
		w(s.Result, false)
	case *ir.DotStmt:
		w(s.Target, false)
	case *ir.LenStmt:
		w(s.Target, false)
	case *ir.MakeNullStmt:
		w(s.Target, false)
	case *ir.MakeNumberIntStmt:
		w(s.Target, false)
	case *ir.MakeNumberRefStmt:
		w(s.Target, false)
	case *ir.AssignIntStmt:
		w(s.Target, false)
	case *ir.AssignVarStmt:
		w(s.Target, false)
	case *ir.AssignVarOnceStmt:
		w(s.Target, false)
	case *ir.ObjectMergeStmt:
		w(s.Target, false)
	}
	// ResetLocalStmt makes a local undefined: it holds no value to share.
}

func walkStmts(blocks []*ir.Block, f func(ir.Stmt)) {
	for _, b := range blocks {
		if b == nil {
			continue
		}
		for _, s := range b.Stmts {
			f(s)
			switch s := s.(type) {
			case *ir.BlockStmt:
				walkStmts(s.Blocks, f)
			case *ir.ScanStmt:
				walkStmts([]*ir.Block{s.Block}, f)
			case *ir.NotStmt:
				walkStmts([]*ir.Block{s.Block}, f)
			case *ir.WithStmt:
				walkStmts([]*ir.Block{s.Block}, f)
			}
		}
	}
}

// inGroup tells the statements that may sit between a literal's Make and
// its inserts without looking into any value: number and null constants,
// and moves.
func inGroup(s ir.Stmt) bool {
	switch s.(type) {
	case *ir.MakeNumberIntStmt, *ir.MakeNumberRefStmt, *ir.MakeNullStmt, *ir.AssignVarStmt:
		return true
	}
	return false
}

// walkLists calls f with every statement list of blocks, nested ones too.
func walkLists(blocks []*ir.Block, f func([]ir.Stmt)) {
	for _, b := range blocks {
		if b == nil {
			continue
		}
		f(b.Stmts)
		for _, s := range b.Stmts {
			switch s := s.(type) {
			case *ir.BlockStmt:
				walkLists(s.Blocks, f)
			case *ir.ScanStmt:
				walkLists([]*ir.Block{s.Block}, f)
			case *ir.NotStmt:
				walkLists([]*ir.Block{s.Block}, f)
			case *ir.WithStmt:
				walkLists([]*ir.Block{s.Block}, f)
			}
		}
	}
}

// analyzeFold reports, for one function, whether its mutated locals are
// written by Make statements alone, and how often each is mutated.
func analyzeFold(params []ir.Local, blocks []*ir.Block) foldInfo {
	info := foldInfo{enabled: true, mutations: map[ir.Local]int{}, inRuns: map[ir.Local]int{}, inGroups: map[ir.Local]int{}}
	walkLists(blocks, func(stmts []ir.Stmt) {
		made := map[ir.Local]bool{}
		for i, s := range stmts {
			if t := mutationTargetOrMake(s); t >= 0 {
				info.inRuns[t] += insertsInto(stmts[i+1:], t)
				made[t] = true
			} else if t, ok := mutationTarget(s); ok {
				if made[t] {
					info.inGroups[t]++
				}
			} else if !inGroup(s) {
				clear(made)
			}
		}
	})
	impure := map[ir.Local]bool{}
	for _, p := range params {
		impure[p] = true
	}
	walkStmts(blocks, func(s ir.Stmt) {
		if t, ok := mutationTarget(s); ok {
			info.mutations[t]++
		}
		writes(s, func(l ir.Local, fresh bool) {
			if !fresh {
				impure[l] = true
			}
		})
	})
	for l := range info.mutations {
		if impure[l] {
			info.enabled = false
		}
	}
	return info
}

// foldAll tells whether folding is safe for the whole policy.
func foldAll(p *ir.Policy) bool {
	if p.Funcs != nil {
		for _, f := range p.Funcs.Funcs {
			if !analyzeFold(f.Params, f.Blocks).enabled {
				return false
			}
		}
	}
	for _, pl := range p.Plans.Plans {
		if !analyzeFold([]ir.Local{ir.Input, ir.Data}, pl.Blocks).enabled {
			return false
		}
	}
	return true
}

// constOperand is the constant of an operand, or nil for a local.
func (c *compiler) constOperand(o ir.Operand) *ast.Term {
	op, err := c.operand(o)
	if err != nil {
		return nil
	}
	return op.c
}

// fold tries to fold the literal built from stmts[i] (a Make statement)
// and returns its constant and the number of statements it spans.
func (c *compiler) fold(stmts []ir.Stmt, i int) (*ast.Term, int) {
	if !c.foldOK {
		return nil, 0
	}
	var target ir.Local
	var value *ast.Term
	switch s := stmts[i].(type) {
	case *ir.MakeObjectStmt:
		target, value = s.Target, ast.NewTerm(ast.NewObject())
	case *ir.MakeArrayStmt:
		target, value = s.Target, ast.NewTerm(ast.NewArrayWithCapacity(int(s.Capacity)))
	case *ir.MakeSetStmt:
		target, value = s.Target, ast.NewTerm(ast.NewSet())
	default:
		return nil, 0
	}
	n := 0
	for _, s := range stmts[i+1:] {
		t, ok := mutationTarget(s)
		if !ok || t != target || !c.foldConst(value, s) {
			break
		}
		n++
	}
	switch {
	case n == c.foldInfo.mutations[target]:
		// The only mutations of the local are these constant ones.
	case n == insertsInto(stmts[i+1:], target) && c.foldInfo.inRuns[target] == c.foldInfo.mutations[target]:
		// The whole run is constant, and every other mutation of the
		// local is in a run of its own Make.
	default:
		return nil, 0 // the value is modified elsewhere too
	}
	return value, 1 + n
}

// foldConst applies a constant mutation to the literal being folded.
func (c *compiler) foldConst(value *ast.Term, s ir.Stmt) bool {
	switch s := s.(type) {
	case *ir.ObjectInsertStmt:
		// A mutation of another kind than its Make (the planner never
		// emits one) is left to run, which reports it as an internal error.
		k, v := c.constOperand(s.Key), c.constOperand(s.Value)
		obj, ok := value.Value.(ast.Object)
		if k == nil || v == nil || !ok {
			return false
		}
		obj.Insert(k, v)
	case *ir.ArrayAppendStmt:
		v := c.constOperand(s.Value)
		arr, ok := value.Value.(*ast.Array)
		if v == nil || !ok {
			return false
		}
		value.Value = arr.Append(v)
	case *ir.SetAddStmt:
		v := c.constOperand(s.Value)
		set, ok := value.Value.(ast.Set)
		if v == nil || !ok {
			return false
		}
		set.Add(v)
	default:
		// ObjectInsertOnce may conflict: leave it to run.
		return false
	}
	return true
}

// mutationTargetOrMake is the target of a Make statement.
func mutationTargetOrMake(s ir.Stmt) ir.Local {
	switch s := s.(type) {
	case *ir.MakeObjectStmt:
		return s.Target
	case *ir.MakeArrayStmt:
		return s.Target
	case *ir.MakeSetStmt:
		return s.Target
	}
	return -1
}

// insertsInto counts the mutations of target at the start of stmts: for an
// object, the capacity its Make statement gives it.
func insertsInto(stmts []ir.Stmt, target ir.Local) int {
	n := 0
	for _, s := range stmts {
		if t, ok := mutationTarget(s); !ok || t != target {
			break
		}
		n++
	}
	return n
}
