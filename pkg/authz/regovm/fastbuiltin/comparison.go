package fastbuiltin

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// The comparison built-ins never fail: OPA's versions are exactly these
// expressions on Value.Compare and Term.Equal.
func init() {
	register(ast.Equal.Name, 2, func(_ *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		return ast.InternedTerm(Equal(a[0], a[1])), nil
	})
	register(ast.NotEqual.Name, 2, func(_ *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		return ast.InternedTerm(!Equal(a[0], a[1])), nil
	})
	register(ast.LessThan.Name, 2, func(_ *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		return ast.InternedTerm(Compare(a[0].Value, a[1].Value) < 0), nil
	})
	register(ast.LessThanEq.Name, 2, func(_ *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		return ast.InternedTerm(Compare(a[0].Value, a[1].Value) <= 0), nil
	})
	register(ast.GreaterThan.Name, 2, func(_ *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		return ast.InternedTerm(Compare(a[0].Value, a[1].Value) > 0), nil
	})
	register(ast.GreaterThanEq.Name, 2, func(_ *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		return ast.InternedTerm(Compare(a[0].Value, a[1].Value) >= 0), nil
	})
}

// Equal is (*ast.Term).Equal, with numbers compared by NumberCompare.
func Equal(a, b *ast.Term) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if x, ok := a.Value.(ast.Number); ok {
		y, ok := b.Value.(ast.Number)
		return ok && NumberCompare(x, y) == 0
	}
	return a.Equal(b)
}
