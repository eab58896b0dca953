package fastbuiltin

import (
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

var arithNames = []string{"plus", "minus", "mul", "div", "rem"}

func TestArithmeticMatchesOPA(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	bctx := testBctx(fixedNow)
	for _, name := range arithNames {
		for _, x := range numberTexts {
			for _, y := range numberTexts {
				differential(t, bctx, name, []*ast.Term{num(x), num(y)})
			}
		}
		for i := 0; i < 30000; i++ {
			differential(t, bctx, name, []*ast.Term{randTerm(r), randTerm(r)})
		}
		// Wrong arity and non-numbers go to OPA, which errors.
		differential(t, bctx, name, []*ast.Term{ast.StringTerm("1"), num("1")})
		differential(t, bctx, name, []*ast.Term{num("1"), ast.NullTerm()})
	}
	differential(t, bctx, "minus", []*ast.Term{ast.SetTerm(num("1"), num("2")), ast.SetTerm(num("2"))})
}

// Division by powers of ten is the native path that formats a non-integer:
// every dividend size and every power.
func TestDivideByPowersOfTen(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	bctx := testBctx(fixedNow)
	p := int64(1)
	for k := 0; k <= 18; k++ {
		for i := 0; i < 3000; i++ {
			x := int64(r.Uint64() >> (1 + r.IntN(63)))
			if r.IntN(2) == 0 {
				x = -x
			}
			y := p
			if r.IntN(4) == 0 {
				y = -y
			}
			args := []*ast.Term{num(strconv.FormatInt(x, 10)), num(strconv.FormatInt(y, 10))}
			differential(t, bctx, "div", args)
			// Dividends with trailing zeros and tiny ones.
			args[0] = num(strconv.FormatInt(x%1000*int64(pow10(r.IntN(15))), 10))
			differential(t, bctx, "div", args)
		}
		p *= 10
	}
}

func pow10(k int) int {
	p := 1
	for range k {
		p *= 10
	}
	return p
}

func TestDivideNowNanos(t *testing.T) {
	bctx := testBctx(fixedNow)
	got, err := Lookup("div")(bctx, []*ast.Term{bctx.Time, num("1000000000")})
	if err != nil {
		t.Fatal(err)
	}
	if want := "1.764118923456789012e+09"; got.String() != want {
		t.Fatalf("div(now_ns, 1e9) = %v, want %v", got, want)
	}
}

func TestArithmeticOddTextsLikeOPA(t *testing.T) {
	bctx := testBctx(fixedNow)
	for _, name := range arithNames {
		for _, x := range oddTexts {
			for _, y := range []string{"1", "10", "3"} {
				for _, args := range [][]*ast.Term{{num(x), num(y)}, {num(y), num(x)}} {
					got, gotErr, gotPanic := tryCall(Lookup(name), bctx, args)
					want, wantErr, wantPanic := tryCall(opaBuiltin(name), bctx, args)
					if gotPanic != wantPanic {
						t.Fatalf("%s%v: native panics %v, OPA panics %v", name, args, gotPanic, wantPanic)
					}
					if !gotPanic {
						sameResult(t, name, args, got, gotErr, want, wantErr)
					}
				}
			}
		}
	}
}

func tryCall(f Func, bctx *topdown.BuiltinContext, args []*ast.Term) (out *ast.Term, err error, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	out, err = f(bctx, args)
	return out, err, false
}

func TestNowNanos(t *testing.T) {
	bctx := testBctx(fixedNow)
	differential(t, bctx, "time.now_ns", nil)
	if got, _ := Lookup("time.now_ns")(bctx, nil); got != bctx.Time {
		t.Fatalf("time.now_ns = %v, want %v", got, bctx.Time)
	}
}

func BenchmarkArithmetic(b *testing.B) {
	bctx := testBctx(fixedNow)
	cases := []struct {
		name string
		args []*ast.Term
	}{
		{"div", []*ast.Term{bctx.Time, num("1000000000")}},
		{"div", []*ast.Term{num("3000000000"), num("1000")}},
		{"plus", []*ast.Term{bctx.Time, num("3600000000000")}},
		{"mul", []*ast.Term{num("1764118923"), num("1000")}},
		{"rem", []*ast.Term{bctx.Time, num("7")}},
		{"time.now_ns", nil},
	}
	for _, c := range cases {
		benchPair(b, bctx, c.name, c.args)
	}
}

func FuzzArithmetic(f *testing.F) {
	f.Add(int64(1764118923456789012), int64(1000000000), uint8(3))
	f.Add(int64(-7), int64(2), uint8(4))
	f.Add(int64(1<<62), int64(4), uint8(2))
	bctx := testBctx(fixedNow)
	f.Fuzz(func(t *testing.T, x, y int64, op uint8) {
		name := arithNames[int(op)%len(arithNames)]
		args := []*ast.Term{num(strconv.FormatInt(x, 10)), num(strconv.FormatInt(y, 10))}
		got, gotErr := Lookup(name)(bctx, args)
		want, wantErr := CallOPA(name, bctx, args)
		sameResult(t, name, args, got, gotErr, want, wantErr)
	})
}

func TestIntTermIsIntNumberTerm(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 9, 10, 1<<63 - 1, -1 << 63, 1764121234567891234} {
		got, want := IntTerm(v), ast.IntNumberTerm(int(v))
		if got.Value.Compare(want.Value) != 0 || got.String() != want.String() {
			t.Errorf("IntTerm(%d) = %v, want %v", v, got, want)
		}
	}
	// The texts of terms made one after another stay their own.
	a, b := IntTerm(12345), IntTerm(67890)
	if a.String() != "12345" || b.String() != "67890" {
		t.Fatalf("%v %v", a, b)
	}
}

// TestNativeArithmeticStaysNative: the native paths decide every case
// arith.go claims, without OPA: plain integers (|x| < 2^63, written
// -?(0|[1-9][0-9]*)) whose exact result is below 2^63 in magnitude; for rem, any
// non-zero divisor; for div, a non-zero dividend and divisor with an
// integer quotient or a power of ten as divisor. The claim is decided here
// with math/big, not with the package's own checks.
func TestNativeArithmeticStaysNative(t *testing.T) {
	plain := regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	limit := new(big.Int).Lsh(big.NewInt(1), 63)
	fits := func(z *big.Int) bool { return z.CmpAbs(limit) < 0 } // -2^63 itself: mul leaves it to OPA
	var texts []string
	for _, s := range numberTexts {
		if z, ok := new(big.Int).SetString(s, 10); ok && plain.MatchString(s) && z.CmpAbs(limit) < 0 {
			texts = append(texts, s)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 400 {
		// Every magnitude, both signs, and sums near the int64 edges.
		v := r.Int64() >> r.IntN(63)
		if r.IntN(2) == 0 {
			v = -v
		}
		texts = append(texts, strconv.FormatInt(v, 10))
	}
	texts = append(texts, "4611686018427387904", "-4611686018427387904", "3037000499", "3037000500", "-3037000500")
	pow10 := new(big.Int)
	bctx := testBctx(fixedNow)
	for _, xs := range texts {
		for _, ys := range texts[:len(texts):len(texts)] {
			x, _ := new(big.Int).SetString(xs, 10)
			y, _ := new(big.Int).SetString(ys, 10)
			native := map[string]bool{
				"plus":  fits(new(big.Int).Add(x, y)),
				"minus": fits(new(big.Int).Sub(x, y)),
				"mul":   fits(new(big.Int).Mul(x, y)),
				"rem":   y.Sign() != 0,
			}
			if x.Sign() != 0 && y.Sign() != 0 {
				_, m := new(big.Int).QuoRem(x, y, new(big.Int))
				k := len(new(big.Int).Abs(y).String()) - 1
				pow10.Exp(big.NewInt(10), big.NewInt(int64(k)), nil)
				native["div"] = m.Sign() == 0 || new(big.Int).Abs(y).Cmp(pow10) == 0
			}
			for name, want := range native {
				if !want {
					continue
				}
				before := fallbacks.Load()
				Lookup(name)(bctx, []*ast.Term{num(xs), num(ys)})
				if fallbacks.Load() != before {
					t.Fatalf("%s(%s, %s) went to OPA; the native path claims it", name, xs, ys)
				}
			}
		}
	}
}
