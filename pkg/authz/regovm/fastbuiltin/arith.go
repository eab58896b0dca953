package fastbuiltin

import (
	"math/bits"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Arithmetic is native only for plain integers x with |x| < 2^63 and for
// results that fit an int64, where OPA's own result is the exact integer
// result (its int32 fast path and its big.Int path agree there). Division is
// native when the quotient is an integer, or when the divisor is a power of
// ten (time.now_ns() / 1000000000): see appendShift.
func init() {
	register(ast.Plus.Name, 2, intOp(ast.Plus.Name, addExact))
	register(ast.Minus.Name, 2, intOp(ast.Minus.Name, func(x, y int64) (int64, bool) { return addExact(x, -y) }))
	register(ast.Multiply.Name, 2, intOp(ast.Multiply.Name, mulExact))
	register(ast.Rem.Name, 2, intOp(ast.Rem.Name, func(x, y int64) (int64, bool) {
		if y == 0 {
			return 0, false // OPA's error
		}
		return x % y, true
	}))
	register(ast.Divide.Name, 2, divide)
	register(ast.NowNanos.Name, 0, func(bctx *topdown.BuiltinContext, _ []*ast.Term) (*ast.Term, error) {
		if bctx == nil {
			return nil, nil // OPA's built-in yields its (nil) bctx.Time too
		}
		return bctx.Time, nil
	})
}

// intOp makes a native integer operation; op reports false when it does
// not handle the operands (OPA's built-in then runs).
func intOp(name string, op func(x, y int64) (int64, bool)) Func {
	opa := opaBuiltin(name)
	return func(bctx *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
		if x, ok := plainInt(a[0].Value); ok {
			if y, ok := plainInt(a[1].Value); ok {
				if r, ok := op(x, y); ok {
					return ast.IntNumberTerm(int(r)), nil
				}
			}
		}
		return opa(bctx, a)
	}
}

// addExact adds x and y when the sum fits an int64. Operands are never
// math.MinInt64 (plainInt), so -y cannot overflow.
func addExact(x, y int64) (int64, bool) {
	r := x + y
	if (x >= 0) == (y >= 0) && (r >= 0) != (x >= 0) {
		return 0, false
	}
	return r, true
}

// mulExact multiplies x and y when the product fits an int64.
func mulExact(x, y int64) (int64, bool) {
	hi, lo := bits.Mul64(abs(x), abs(y))
	if hi != 0 || lo > 1<<63-1 {
		return 0, false
	}
	if (x < 0) != (y < 0) {
		return -int64(lo), true
	}
	return int64(lo), true
}

func abs(x int64) uint64 {
	if x < 0 {
		return uint64(-x)
	}
	return uint64(x)
}

// maxPlainDigits bounds the length of the integers handled natively.
const maxPlainDigits = 19

// plainInt parses v when it is a number written -?(0|[1-9][0-9]*) whose
// absolute value is below 2^63 (so never math.MinInt64).
func plainInt(v ast.Value) (int64, bool) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, false
	}
	s := string(n)
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > maxPlainDigits || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var r uint64 // 19 digits cannot overflow a uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) {
			return 0, false
		}
		r = r*10 + uint64(c-'0')
	}
	if r > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(r), true
	}
	return int64(r), true
}

var opaDivide = opaBuiltin(ast.Divide.Name)

// divide is OPA's div. OPA divides ints in the int32 window exactly when
// the divisor divides the dividend, and otherwise (larger operands, or an
// inexact quotient) takes the quotient of two 64-bit-mantissa big.Floats and
// formats it with Text('g', -1), or Text('f', -1) when it is an integer.
// For integer operands below 2^63 an exact integer quotient is exactly
// representable, so both paths print it as an integer. A zero dividend is
// left to OPA (its float path yields "-0" for negative divisors), as are
// zero divisors (OPA's error).
func divide(bctx *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
	x, ok := plainInt(a[0].Value)
	if !ok || x == 0 {
		return opaDivide(bctx, a)
	}
	y, ok := plainInt(a[1].Value)
	if !ok || y == 0 {
		return opaDivide(bctx, a)
	}
	if x%y == 0 {
		return ast.IntNumberTerm(int(x / y)), nil
	}
	k := powerOfTen(abs(y))
	if k < 0 {
		return opaDivide(bctx, a)
	}
	return numberTerm(func(dst []byte) []byte { return appendShift(dst, (x < 0) != (y < 0), abs(x), k) }), nil
}

// powerOfTen returns k when u == 10^k, else -1.
func powerOfTen(u uint64) int {
	k := 0
	for u >= 10 && u%10 == 0 {
		u /= 10
		k++
	}
	if u != 1 {
		return -1
	}
	return k
}

// appendShift appends the non-integer quotient u / 10^k (u > 0) exactly as
// big.Float.Text('g', -1) formats the 64-bit-mantissa float nearest to it.
//
// Why the digits are those of the exact quotient q: u < 2^63, so q <
// 2^63/10^k and the float's ulp is below 10^-k, the weight of q's last
// digit. The float lies within half an ulp of q, so q is inside the float's
// rounding interval, and no decimal with fewer significant digits is (it
// would be at least 10^-k away from q). big.Float's shortest conversion
// therefore yields exactly q's digits. The layout is then Text's: %e form
// when the decimal exponent is below -4 or at least 6 (the shortest-mode
// threshold), else %f form.
func appendShift(out []byte, neg bool, u uint64, k int) []byte {
	var buf [24]byte
	s := strconv.AppendUint(buf[:0], u, 10)
	dp := len(s) - k // q = 0.s * 10^dp
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if neg {
		out = append(out, '-')
	}
	exp := dp - 1
	switch {
	case exp < -4 || exp >= 6:
		out = append(out, s[0])
		if len(s) > 1 {
			out = append(out, '.')
			out = append(out, s[1:]...)
		}
		out = append(out, 'e')
		if exp < 0 {
			out = append(out, '-')
			exp = -exp
		} else {
			out = append(out, '+')
		}
		if exp < 10 {
			out = append(out, '0')
		}
		out = strconv.AppendInt(out, int64(exp), 10)
	case dp > 0:
		out = append(out, s[:dp]...)
		out = append(out, '.')
		out = append(out, s[dp:]...)
	default:
		out = append(out, '0', '.')
		for i := dp; i < 0; i++ {
			out = append(out, '0')
		}
		out = append(out, s...)
	}
	return out
}
