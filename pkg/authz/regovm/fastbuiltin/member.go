package fastbuiltin

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// internal.member_2 is `x in coll`. OPA's version never fails: membership
// in a set, an array or an object's values, false for anything else.
func init() {
	register(ast.Member.Name, 2, func(_ *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		x := a[0]
		switch c := a[1].Value.(type) {
		case ast.Set:
			return ast.InternedTerm(c.Contains(x)), nil
		case *ast.Array:
			for i := 0; i < c.Len(); i++ {
				if Equal(x, c.Elem(i)) {
					return ast.InternedTerm(true), nil
				}
			}
			return ast.InternedTerm(false), nil
		case ast.Object:
			return ast.InternedTerm(c.Until(func(_, v *ast.Term) bool { return x.Equal(v) })), nil
		}
		return ast.InternedTerm(false), nil
	})
}
