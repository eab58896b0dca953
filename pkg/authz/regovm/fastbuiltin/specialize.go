package fastbuiltin

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Specialize returns a version of the named built-in for one call site
// whose arguments consts[i] (where non-nil) are constants: the very term
// the call receives as argument i on every call, immutable for as long as
// the returned Func is used. The specialized version precomputes what it
// can from those constants; it still checks that it gets them and behaves
// exactly as Lookup(name) otherwise. It returns nil when the built-in has
// nothing to gain from constants (use Lookup's version then).
func Specialize(name string, consts []*ast.Term) Func {
	if name == ast.JWTDecodeVerify.Name && len(consts) == 2 && consts[1] != nil {
		return jwtDecodeVerifyConst(consts[1])
	}
	return nil
}

// jwtDecodeVerifyConst is io.jwt.decode_verify for a constant constraints
// object (the primer's {"secret": "secret"}): the cache key's encoding of
// the constraints is computed once instead of on every call.
func jwtDecodeVerifyConst(constraints *ast.Term) Func {
	suffix, timeText, ok := jwtCacheKey(nil, "", constraints.Value)
	if !ok {
		return nil
	}
	// jwtCacheKey encodes the token first, as a length and its bytes; the
	// constraints' encoding follows the empty token's one-byte length.
	suffix = suffix[1:]
	general := natives[ast.JWTDecodeVerify.Name]
	return func(bctx *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		if len(a) != 2 || a[1] != constraints {
			return general(bctx, a)
		}
		token, ok := a[0].Value.(ast.String)
		if !ok {
			return opaJWTDecodeVerify(bctx, a)
		}
		var buf [512]byte
		key := append(appendLenString(buf[:0], string(token)), suffix...)
		return jwtVerifyKeyed(bctx, a, string(token), key, timeText)
	}
}
