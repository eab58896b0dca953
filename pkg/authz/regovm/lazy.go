package regovm

import "github.com/open-policy-agent/opa/v1/ast"

// Lazy is a value its owner builds on demand: the authorization input,
// read field by field from Envoy's CheckRequest. The VM resolves a
// DotStmt on a Lazy with Dot and passes Lazy values between locals and
// into planned functions as they are; any other use (a built-in argument,
// a comparison, a scan, a collection, a result) gets Materialize's value,
// so a Lazy never escapes an evaluation and no statement can tell it from
// that value. Dot must return exactly what looking key up in
// Materialize's value returns (nil when undefined); the owner's tests hold
// it to that. A Lazy is used by one evaluation at a time.
type Lazy interface {
	ast.Value
	Dot(key *ast.Term) *ast.Term
	Materialize() *ast.Term
}

// materialize is t with a Lazy replaced by its value.
func materialize(t *ast.Term) *ast.Term {
	if t == nil {
		return nil
	}
	switch t.Value.(type) {
	case ast.String, ast.Number, ast.Boolean, ast.Null, *ast.Array:
		// The common values, told apart by their type word alone: cheaper
		// than asserting the Lazy interface on every read.
		return t
	}
	if l, ok := t.Value.(Lazy); ok {
		return l.Materialize()
	}
	return t
}

// readRaw is read without materializing: for the statements that only
// move a value (AssignVar, call arguments) or select from it (Dot).
func (e *evaluator) readRaw(f []*ast.Term, o operand) *ast.Term {
	if o.c != nil {
		return o.c
	}
	return f[o.local]
}
