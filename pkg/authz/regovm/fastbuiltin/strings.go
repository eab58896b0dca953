package fastbuiltin

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// The string built-ins below are OPA's own code for string operands (OPA's
// are already cheap; these save the per-call iterator closure and context
// copy). Any other operand goes to OPA's built-in for its error.
func init() {
	register(ast.Split.Name, 2, strings2(ast.Split.Name, func(a []*ast.Term, s, d string) *ast.Term {
		if !strings.Contains(s, d) {
			return ast.ArrayTerm(a[0])
		}
		return splitArray(s, d)
	}))
	register(ast.StartsWith.Name, 2, strings2(ast.StartsWith.Name, func(_ []*ast.Term, s, p string) *ast.Term {
		return ast.InternedTerm(strings.HasPrefix(s, p))
	}))
	register(ast.EndsWith.Name, 2, strings2(ast.EndsWith.Name, func(_ []*ast.Term, s, p string) *ast.Term {
		return ast.InternedTerm(strings.HasSuffix(s, p))
	}))
	register(ast.Contains.Name, 2, strings2(ast.Contains.Name, func(_ []*ast.Term, s, p string) *ast.Term {
		return ast.InternedTerm(strings.Contains(s, p))
	}))
	register(ast.TrimPrefix.Name, 2, strings2(ast.TrimPrefix.Name, func(a []*ast.Term, s, p string) *ast.Term {
		return sameOrNew(a[0], s, strings.TrimPrefix(s, p))
	}))
	register(ast.TrimSuffix.Name, 2, strings2(ast.TrimSuffix.Name, func(a []*ast.Term, s, p string) *ast.Term {
		return sameOrNew(a[0], s, strings.TrimSuffix(s, p))
	}))
	register(ast.Lower.Name, 1, strings1(ast.Lower.Name, func(a []*ast.Term, s string) (*ast.Term, bool) {
		return sameOrNew(a[0], s, strings.ToLower(s)), true
	}))
	register(ast.Upper.Name, 1, strings1(ast.Upper.Name, func(a []*ast.Term, s string) (*ast.Term, bool) {
		return sameOrNew(a[0], s, strings.ToUpper(s)), true
	}))
	register(ast.Base64UrlDecode.Name, 1, strings1(ast.Base64UrlDecode.Name, base64URLDecode))
	register(ast.Count.Name, 1, count)
	register(ast.Concat.Name, 2, concat)
}

// strings1 makes a native one-string built-in; f reports false when it
// leaves the call to OPA.
func strings1(name string, f func(a []*ast.Term, s string) (*ast.Term, bool)) Func {
	opa := opaBuiltin(name)
	return func(bctx *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		if s, ok := a[0].Value.(ast.String); ok {
			if t, ok := f(a, string(s)); ok {
				return t, nil
			}
		}
		return opa(bctx, a)
	}
}

// strings2 makes a native two-string built-in.
func strings2(name string, f func(a []*ast.Term, x, y string) *ast.Term) Func {
	opa := opaBuiltin(name)
	return func(bctx *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		if x, ok := a[0].Value.(ast.String); ok {
			if y, ok := a[1].Value.(ast.String); ok {
				return f(a, string(x), string(y)), nil
			}
		}
		return opa(bctx, a)
	}
}

// splitArray is strings.Split(s, d) as an array term of string terms.
func splitArray(s, d string) *ast.Term {
	n := strings.Count(s, d) + 1
	var terms []ast.Term
	var ptrs []*ast.Term
	var arr *ast.Term
	if n == 2 { // "Bearer <token>": one allocation for the terms and slices
		pair := new(struct {
			t   [2]ast.Term
			p   [2]*ast.Term
			arr ast.Term
		})
		terms, ptrs, arr = pair.t[:], pair.p[:], &pair.arr
	} else {
		terms, ptrs, arr = make([]ast.Term, n), make([]*ast.Term, n), new(ast.Term)
	}
	i := 0
	for part := range strings.SplitSeq(s, d) {
		terms[i].Value = ast.String(part)
		ptrs[i] = &terms[i]
		i++
	}
	arr.Value = ast.NewArray(ptrs[:i]...)
	return arr
}

// sameOrNew is OPA's convention for string transformations: the operand
// term itself when nothing changed.
func sameOrNew(operand *ast.Term, in, out string) *ast.Term {
	if in == out {
		return operand
	}
	return ast.InternedTerm(out)
}

// base64URLDecode is OPA's base64url.decode, padding added as RFC 7515
// Appendix C describes; every string OPA rejects goes to OPA for its error.
func base64URLDecode(_ []*ast.Term, s string) (*ast.Term, bool) {
	var sbuf, dbuf [256]byte // short strings decode without garbage
	src := append(sbuf[:0], s...)
	if !strings.HasSuffix(s, "=") {
		switch len(s) % 4 {
		case 0:
		case 2:
			src = append(src, "=="...)
		case 3:
			src = append(src, '=')
		default:
			return nil, false
		}
	}
	// DecodeString is exactly this Decode into a DecodedLen buffer.
	dst := dbuf[:0]
	if n := base64.URLEncoding.DecodedLen(len(src)); n > len(dbuf) {
		dst = make([]byte, n)
	} else {
		dst = dbuf[:n]
	}
	n, err := base64.URLEncoding.Decode(dst, src)
	if err != nil {
		return nil, false
	}
	return ast.InternedTerm(string(dst[:n])), true
}

var opaCount = opaBuiltin(ast.Count.Name)

// count is OPA's count; len([]rune(s)) is utf8.RuneCountInString(s), both
// counting each invalid byte as one rune.
func count(bctx *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
	switch v := a[0].Value.(type) {
	case *ast.Array:
		return ast.InternedTerm(v.Len()), nil
	case ast.Object:
		return ast.InternedTerm(v.Len()), nil
	case ast.Set:
		return ast.InternedTerm(v.Len()), nil
	case ast.String:
		return ast.InternedTerm(utf8.RuneCountInString(string(v))), nil
	}
	return opaCount(bctx, a)
}

var opaConcat = opaBuiltin(ast.Concat.Name)

// maxNativeConcat bounds the strings concat joins natively; OPA's version
// checks for cancellation while writing, which matters only for long ones.
const maxNativeConcat = 1 << 12

// concat is OPA's concat on arrays of strings; sets (joined in OPA's set
// order) and errors go to OPA.
func concat(bctx *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
	sep, ok := a[0].Value.(ast.String)
	arr, ok2 := a[1].Value.(*ast.Array)
	if !ok || !ok2 || (bctx != nil && bctx.Cancel != nil && bctx.Cancel.Cancelled()) {
		return opaConcat(bctx, a)
	}
	l := arr.Len()
	switch l {
	case 0:
		return ast.InternedEmptyString, nil
	case 1:
		if _, ok := arr.Elem(0).Value.(ast.String); ok {
			return arr.Elem(0), nil
		}
		return opaConcat(bctx, a)
	}
	n := len(sep) * (l - 1)
	for i := 0; i < l; i++ {
		s, ok := arr.Elem(i).Value.(ast.String)
		if !ok {
			return opaConcat(bctx, a)
		}
		n += len(s)
	}
	if n > maxNativeConcat {
		return opaConcat(bctx, a)
	}
	var b strings.Builder
	b.Grow(n)
	for i := 0; i < l; i++ {
		if i > 0 {
			b.WriteString(string(sep))
		}
		b.WriteString(string(arr.Elem(i).Value.(ast.String)))
	}
	return ast.InternedTerm(b.String()), nil
}
