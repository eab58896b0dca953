package fastbuiltin

import (
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Compare orders two values exactly as ast.Compare does. Numbers, strings,
// booleans and arrays of them are compared here without allocating; every
// other value, and every number this package does not parse, goes to
// ast.Compare.
func Compare(a, b ast.Value) int {
	switch x := a.(type) {
	case ast.Number:
		if y, ok := b.(ast.Number); ok {
			return NumberCompare(x, y)
		}
	case ast.String:
		if y, ok := b.(ast.String); ok {
			return strings.Compare(string(x), string(y))
		}
	case ast.Boolean:
		if y, ok := b.(ast.Boolean); ok {
			switch {
			case x == y:
				return 0
			case !bool(x):
				return -1
			default:
				return 1
			}
		}
	case *ast.Array:
		if y, ok := b.(*ast.Array); ok {
			return compareArrays(x, y)
		}
	}
	return ast.Compare(a, b)
}

// compareArrays is ast.Compare on two arrays: the first differing element
// decides, then the length.
func compareArrays(x, y *ast.Array) int {
	n, m := x.Len(), y.Len()
	for i := 0; i < n && i < m; i++ {
		ex, ey := x.Elem(i), y.Elem(i)
		if ex == ey {
			continue
		}
		if c := Compare(ex.Value, ey.Value); c != 0 {
			return c
		}
	}
	switch {
	case n < m:
		return -1
	case n > m:
		return 1
	}
	return 0
}

// NumberCompare is ast.NumberCompare: an exact decimal comparison of the
// two numbers' texts (no math/big), except in the one case where OPA's is
// not exact (both texts fractional with trailing zeros: OPA first compares
// them as float64s), and for texts outside JSON's number grammar; those go
// to ast.NumberCompare itself.
func NumberCompare(x, y ast.Number) int {
	xs, ys := string(x), string(y)
	if xs == ys {
		return 0
	}
	if xn, xm, ok := intText(xs); ok {
		if yn, ym, ok := intText(ys); ok {
			return cmpIntTexts(xn, xm, yn, ym)
		}
	}
	if opaFloatShortcut(xs) && opaFloatShortcut(ys) {
		return ast.NumberCompare(x, y)
	}
	if sx, ok := parseShortDec(xs); ok {
		if sy, ok := parseShortDec(ys); ok {
			return sx.cmp(sy)
		}
	}
	dx, ok := parseDec(xs)
	if !ok {
		return ast.NumberCompare(x, y)
	}
	dy, ok := parseDec(ys)
	if !ok {
		return ast.NumberCompare(x, y)
	}
	return dx.cmp(dy)
}

// intText splits s into sign and magnitude digits when s is written
// -?(0|[1-9][0-9]*).
func intText(s string) (neg bool, mag string, ok bool) {
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return false, "", false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false, "", false
		}
	}
	return neg, s, true
}

// cmpIntTexts compares two integers given as sign and digits without
// leading zeros: the longer magnitude is larger, equal lengths compare as
// strings.
func cmpIntTexts(xneg bool, x string, yneg bool, y string) int {
	if x == "0" {
		xneg = false // -0 == 0
	}
	if y == "0" {
		yneg = false
	}
	if xneg != yneg {
		return signOf(xneg)
	}
	var c int
	switch {
	case len(x) != len(y):
		c = signOf(len(x) < len(y))
	default:
		c = strings.Compare(x, y)
	}
	if xneg {
		return -c
	}
	return c
}

// opaFloatShortcut reports whether ast.NumberCompare treats s as
// "non-integral" for its float64 equality shortcut, exactly as it decides
// it: s has a '.', and trimming trailing '.' and '0' characters changes s
// but leaves a '.'.
func opaFloatShortcut(s string) bool {
	if strings.IndexByte(s, '.') < 0 {
		return false
	}
	t := strings.TrimRight(s, ".0")
	return t != s && strings.IndexByte(t, '.') >= 0
}
