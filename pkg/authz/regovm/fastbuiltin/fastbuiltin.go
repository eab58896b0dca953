// Package fastbuiltin has native versions of the Rego built-in functions on
// the hot path of authorization policies (comparisons, arithmetic, strings,
// globs, JWT verification), with exactly the results of OPA's topdown
// built-ins of the same name but without their per-call allocations.
//
// Every native version handles only the operands for which its result is
// provably the one OPA computes (plain int64 arithmetic, strings, ...) and
// hands every other call, including every call that errors, to OPA's own
// built-in, so errors carry OPA's messages.
package fastbuiltin

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Func is a built-in with one output: (nil, nil) means undefined. An error
// has topdown's meaning: the call is undefined, unless it is a topdown.Halt,
// which stops the evaluation.
type Func func(bctx *topdown.BuiltinContext, args []*ast.Term) (*ast.Term, error)

// natives maps built-in names to their native versions. It is filled by
// init functions of this package and read-only afterwards.
var natives = map[string]Func{}

// register installs a native version of the named built-in. The native
// version gets the arity-checked operands; anything else goes to OPA.
func register(name string, arity int, f Func) {
	opa := opaBuiltin(name)
	natives[name] = func(bctx *topdown.BuiltinContext, args []*ast.Term) (*ast.Term, error) {
		if len(args) != arity {
			return opa(bctx, args)
		}
		return f(bctx, args)
	}
}

// Lookup returns the native version of the named built-in, or nil when
// there is none (the caller then uses topdown.GetBuiltin).
func Lookup(name string) Func { return natives[name] }

// Names returns the names of the built-ins with a native version.
func Names() []string {
	out := make([]string, 0, len(natives))
	for n := range natives {
		out = append(out, n)
	}
	return out
}
