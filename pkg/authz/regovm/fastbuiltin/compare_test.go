package fastbuiltin

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestCompareMatchesAST(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		a, b := randTerm(r), randTerm(r)
		if got, want := sign(Compare(a.Value, b.Value)), sign(ast.Compare(a.Value, b.Value)); got != want {
			t.Fatalf("Compare(%v, %v) = %d, ast.Compare = %d", a, b, got, want)
		}
	}
}

func TestCompareAllBoundaryPairs(t *testing.T) {
	for _, x := range numberTexts {
		for _, y := range numberTexts {
			a, b := ast.Number(x), ast.Number(y)
			if got, want := sign(Compare(a, b)), sign(ast.Compare(a, b)); got != want {
				t.Errorf("Compare(%s, %s) = %d, ast.Compare = %d", x, y, got, want)
			}
		}
	}
}

// OPA's NumberCompare is not an exact decimal comparison when both texts
// are fractional with trailing zeros: it first compares them as float64s.
func TestCompareKeepsOPAFloatShortcut(t *testing.T) {
	a, b := ast.Number("0.10000000000000000000010"), ast.Number("0.10")
	if ast.Compare(a, b) != 0 {
		t.Fatalf("premise: OPA orders %v and %v apart", a, b)
	}
	if c := Compare(a, b); c != 0 {
		t.Fatalf("Compare = %d, want OPA's 0", c)
	}
	// Without the trailing zero OPA is exact, and so is Compare.
	a = ast.Number("0.1000000000000000000001")
	if want, got := sign(ast.Compare(a, b)), sign(Compare(a, b)); want != 1 || got != want {
		t.Fatalf("Compare = %d, ast.Compare = %d, want 1", got, want)
	}
}

func TestCompareOddTextsLikeOPA(t *testing.T) {
	for _, x := range oddTexts {
		for _, y := range append([]string{"1", "1.5", "2e3"}, oddTexts...) {
			got, gotPanic := tryCompare(Compare, ast.Number(x), ast.Number(y))
			want, wantPanic := tryCompare(func(a, b ast.Value) int { return ast.Compare(a, b) }, ast.Number(x), ast.Number(y))
			if gotPanic != wantPanic || sign(got) != sign(want) {
				t.Errorf("Compare(%q, %q) = %d (panic %v), ast.Compare = %d (panic %v)", x, y, got, gotPanic, want, wantPanic)
			}
		}
	}
}

func tryCompare(f func(a, b ast.Value) int, a, b ast.Value) (c int, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	return f(a, b), false
}

func TestCompareArraysAndNil(t *testing.T) {
	cases := [][2]ast.Value{
		{nil, nil}, {nil, ast.Null{}}, {ast.Null{}, nil},
		{ast.NewArray(), ast.NewArray(ast.IntNumberTerm(1))},
		{ast.NewArray(ast.NumberTerm("1.0"), ast.StringTerm("b")), ast.NewArray(ast.IntNumberTerm(1), ast.StringTerm("a"))},
		{ast.NewArray(ast.IntNumberTerm(2)), ast.NewArray(ast.IntNumberTerm(1), ast.IntNumberTerm(5))},
		// One a prefix of the other: the length decides, each way round.
		{ast.NewArray(ast.IntNumberTerm(1), ast.IntNumberTerm(2)), ast.NewArray(ast.IntNumberTerm(1))},
		{ast.NewArray(ast.IntNumberTerm(1)), ast.NewArray(ast.IntNumberTerm(1), ast.IntNumberTerm(2))},
		{ast.NewArray(ast.IntNumberTerm(1), ast.IntNumberTerm(2)), ast.NewArray(ast.IntNumberTerm(1), ast.IntNumberTerm(2))},
		{ast.Boolean(false), ast.Boolean(true)}, {ast.Boolean(true), ast.Boolean(true)},
		{ast.String("é"), ast.String("z")}, {ast.String("a"), ast.Number("1")},
	}
	for _, c := range cases {
		got, gotPanic := tryCompare(Compare, c[0], c[1])
		if gotPanic {
			t.Errorf("Compare(%v, %v) panicked", c[0], c[1])
			continue
		}
		if got, want := sign(got), sign(ast.Compare(c[0], c[1])); got != want {
			t.Errorf("Compare(%v, %v) = %d, ast.Compare = %d", c[0], c[1], got, want)
		}
	}
}

func FuzzCompare(f *testing.F) {
	for _, x := range numberTexts {
		f.Add(x, "1764123456")
	}
	for _, x := range oddTexts {
		f.Add(x, "1.5")
	}
	f.Fuzz(func(t *testing.T, x, y string) {
		// Any texts: where ast.Compare panics, so must Compare.
		a, b := ast.Number(x), ast.Number(y)
		got, gotPanic := tryCompare(Compare, a, b)
		want, wantPanic := tryCompare(func(a, b ast.Value) int { return ast.Compare(a, b) }, a, b)
		if gotPanic != wantPanic || sign(got) != sign(want) {
			t.Fatalf("Compare(%q, %q) = %d (panic %v), ast.Compare = %d (panic %v)", x, y, got, gotPanic, want, wantPanic)
		}
	})
}

func TestComparisonBuiltins(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	bctx := testBctx(fixedNow)
	for _, name := range []string{"equal", "neq", "lt", "lte", "gt", "gte"} {
		for i := 0; i < 20000; i++ {
			differential(t, bctx, name, []*ast.Term{randTerm(r), randTerm(r)})
		}
		for _, x := range numberTexts {
			for _, y := range numberTexts {
				differential(t, bctx, name, []*ast.Term{num(x), num(y)})
			}
		}
	}
}

func BenchmarkCompare(b *testing.B) {
	pairs := [][2]string{
		{"1764123456", "1764127056"},
		{"1.764123456789012345e+09", "1764127056"},
		{"1764123456.5", "1764127056"},
	}
	for _, p := range pairs {
		var x, y ast.Value = ast.Number(p[0]), ast.Number(p[1])
		b.Run(fmt.Sprintf("native/%s_vs_%s", p[0], p[1]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Compare(x, y)
			}
		})
		b.Run(fmt.Sprintf("opa/%s_vs_%s", p[0], p[1]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ast.Compare(x, y)
			}
		})
	}
}

// Equal values written differently, and values one unit in the last digit
// apart, with up to 19 significant digits and more: the decimal paths'
// scaling and exponent handling.
func TestCompareSameValueWrittenDifferently(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for i := 0; i < 100000; i++ {
		digits := fmt.Sprint(r.Uint64() >> r.IntN(64))
		if r.IntN(4) == 0 {
			digits += fmt.Sprint(r.Uint64())
		}
		x := writeDecimal(r, digits, 0)
		y := writeDecimal(r, digits, r.IntN(5))
		for _, p := range [][2]string{{x, y}, {x, writeDecimal(r, bumpLast(digits), 0)}} {
			a, b := ast.Number(p[0]), ast.Number(p[1])
			if got, want := sign(Compare(a, b)), sign(ast.Compare(a, b)); got != want {
				t.Fatalf("Compare(%s, %s) = %d, ast.Compare = %d", p[0], p[1], got, want)
			}
		}
	}
}

// writeDecimal writes the integer digits*10^-3 with the point moved and a
// compensating exponent, and pad trailing fractional zeros.
func writeDecimal(r *rand.Rand, digits string, pad int) string {
	shift := r.IntN(len(digits) + 1)
	intp, frac := digits[:len(digits)-shift], digits[len(digits)-shift:]
	if intp == "" {
		intp = "0"
	}
	for range pad {
		frac += "0"
	}
	s := intp
	if frac != "" {
		s += "." + frac
	}
	// value = digits * 10^-shift; we want digits * 10^-3.
	if e := shift - 3; e != 0 {
		s += "e" + fmt.Sprint(e)
	}
	if len(intp) > 1 && intp[0] == '0' {
		return digits + "e-3"
	}
	return s
}

// bumpLast adds one to the last digit of digits (9 wraps to 0 and carries
// nothing: still a different value).
func bumpLast(digits string) string {
	b := []byte(digits)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

// TestIntText: NumberCompare's integer path takes exactly the texts
// -?(0|[1-9][0-9]*), of any length; the other paths are exact too, so a
// narrower intText would only be slower, which no comparison shows.
func TestIntText(t *testing.T) {
	type split struct {
		neg bool
		mag string
	}
	for s, want := range map[string]split{
		"0": {false, "0"}, "-0": {true, "0"}, "7": {false, "7"}, "-7": {true, "7"}, "10": {false, "10"},
		"-1764123456789012345678": {true, "1764123456789012345678"},
	} {
		if neg, mag, ok := intText(s); !ok || neg != want.neg || mag != want.mag {
			t.Errorf("intText(%q) = %v %q %v, want %v %q", s, neg, mag, ok, want.neg, want.mag)
		}
	}
	for _, s := range []string{"", "-", "00", "-00", "07", "-07", "1.0", "1e3", "+1", "--1", "1-"} {
		if neg, mag, ok := intText(s); ok {
			t.Errorf("intText(%q) = %v %q, want no integer", s, neg, mag)
		}
	}
}

// TestEqualWithNil: an undefined operand equals only another undefined one.
func TestEqualWithNil(t *testing.T) {
	x := ast.IntNumberTerm(1)
	if !Equal(nil, nil) || Equal(nil, x) || Equal(x, nil) {
		t.Errorf("Equal with nil: %v %v %v, want true false false", Equal(nil, nil), Equal(nil, x), Equal(x, nil))
	}
}
