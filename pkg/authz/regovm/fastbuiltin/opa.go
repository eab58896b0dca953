package fastbuiltin

import (
	"fmt"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// opaBuiltin adapts OPA's topdown built-in of that name to a Func: the
// path every native version takes for operands it does not handle itself.
// It panics at init time when OPA has no such built-in, since that is a
// programming error in this package. Each call is counted in fallbacks.
func opaBuiltin(name string) Func {
	f := opaCall(name)
	return func(bctx *topdown.BuiltinContext, args []*ast.Term) (*ast.Term, error) {
		fallbacks.Add(1)
		return f(bctx, args)
	}
}

// fallbacks counts the calls native built-ins handed to OPA's own. A
// native path that gave up where it claims to decide would still be
// correct, only slow, which no differential test sees: tests hold each
// native path to the operands it claims (TestNativeArithmeticStaysNative).
// One atomic add per fallback, next to the microseconds OPA's built-in
// takes.
var fallbacks atomic.Int64

func opaCall(name string) Func {
	bf := topdown.GetBuiltin(name)
	if bf == nil {
		panic(fmt.Sprintf("fastbuiltin: OPA has no built-in %q", name))
	}
	return func(bctx *topdown.BuiltinContext, args []*ast.Term) (*ast.Term, error) {
		var bc topdown.BuiltinContext
		if bctx != nil {
			bc = *bctx
		}
		var out *ast.Term
		err := bf(bc, args, func(t *ast.Term) error {
			out = t
			return nil
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// CallOPA calls OPA's topdown built-in of that name with the Func calling
// convention; it is what a native version computes, and what tests and
// benchmarks compare against. It returns an error when OPA has no such
// built-in.
func CallOPA(name string, bctx *topdown.BuiltinContext, args []*ast.Term) (*ast.Term, error) {
	if topdown.GetBuiltin(name) == nil {
		return nil, fmt.Errorf("fastbuiltin: OPA has no built-in %q", name)
	}
	return opaCall(name)(bctx, args)
}
