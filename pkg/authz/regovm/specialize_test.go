package regovm

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// jwtPolicy is a plan of stmts that may call io.jwt.decode_verify.
func jwtPolicy(stmts ...ir.Stmt) *ir.Policy {
	p := policy([]string{"secret"}, nil, stmts...)
	p.Static.BuiltinFuncs = []*ir.BuiltinFunc{{Name: ast.JWTDecodeVerify.Name, Decl: ast.JWTDecodeVerify.Decl}}
	return p
}

func TestBuiltinSpecializedForFoldedArgument(t *testing.T) {
	call := &ir.CallStmt{Func: ast.JWTDecodeVerify.Name, Args: []ir.Operand{loc(0), loc(2)}, Result: 3}
	literal := []ir.Stmt{
		&ir.MakeObjectStmt{Target: 2},
		&ir.ObjectInsertStmt{Key: str(0), Value: str(0), Object: 2},
	}
	for name, c := range map[string]struct {
		stmts       []ir.Stmt
		specialized bool
	}{
		"folded":      {append(append([]ir.Stmt{}, literal...), call), true},
		"overwritten": {append(append([]ir.Stmt{}, literal...), &ir.AssignVarStmt{Source: loc(0), Target: 2}, call), false},
		"reset":       {append(append([]ir.Stmt{}, literal...), &ir.ResetLocalStmt{Target: 2}, call), false},
		"nested write": {append(append([]ir.Stmt{}, literal...), &ir.BlockStmt{Blocks: []*ir.Block{{Stmts: []ir.Stmt{
			&ir.AssignVarStmt{Source: loc(0), Target: 2},
		}}}}, call), false},
	} {
		prog, err := Compile(jwtPolicy(c.stmts...))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var cb *sCallBuiltin
		for _, s := range prog.eval.blocks[0].stmts {
			if s, ok := s.(*sCallBuiltin); ok {
				cb = s
			}
		}
		if cb == nil {
			t.Fatalf("%s: no built-in call", name)
		}
		if got := cb.bi.specialized; got != c.specialized {
			t.Fatalf("%s: specialized %v, want %v", name, got, c.specialized)
		}
	}
}
