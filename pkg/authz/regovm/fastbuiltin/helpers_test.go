package fastbuiltin

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// testBctx is a builtin context like topdown's, with a fixed clock.
func testBctx(now time.Time) *topdown.BuiltinContext {
	return &topdown.BuiltinContext{
		Context: context.Background(),
		Time:    ast.NumberTerm(json.Number(strconv.FormatInt(now.UnixNano(), 10))),
	}
}

// num is a number term with the given text.
func num(s string) *ast.Term { return ast.NumberTerm(json.Number(s)) }

// sameResult requires native and OPA to agree: both erroring (undefined),
// or both undefined, or equal terms whose texts are identical.
func sameResult(t *testing.T, name string, args []*ast.Term, got *ast.Term, gotErr error, want *ast.Term, wantErr error) {
	t.Helper()
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%s%v: native error %v, OPA error %v", name, args, gotErr, wantErr)
	}
	if gotErr != nil {
		if gotErr.Error() != wantErr.Error() {
			t.Fatalf("%s%v: native error %q, OPA error %q", name, args, gotErr, wantErr)
		}
		return
	}
	if (got == nil) != (want == nil) {
		t.Fatalf("%s%v: native %v, OPA %v", name, args, got, want)
	}
	if got == nil {
		return
	}
	if !got.Equal(want) || got.String() != want.String() {
		t.Fatalf("%s%v: native %v, OPA %v", name, args, got, want)
	}
}

// differential calls the native version and OPA's built-in on args.
func differential(t *testing.T, bctx *topdown.BuiltinContext, name string, args []*ast.Term) {
	t.Helper()
	f := Lookup(name)
	if f == nil {
		t.Fatalf("no native %s", name)
	}
	got, gotErr := f(bctx, args)
	want, wantErr := CallOPA(name, bctx, args)
	sameResult(t, name, args, got, gotErr, want, wantErr)
}

// numberTexts are number texts around every boundary the native paths
// and OPA's paths care about.
var numberTexts = []string{
	"0", "-0", "1", "-1", "2", "3", "7", "10", "-10", "100", "1000", "1000000000", "-1000000000",
	"2147483647", "2147483648", "-2147483648", "-2147483649", "4294967296",
	"999999999999999999", "-999999999999999999", "1000000000000000000", "-1000000000000000000",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551616",
	"1764000000000000000", "1764123456789012345", "1764123456000000000", "123456789012345678901234567890",
	"1.0", "1.00", "-1.0", "0.0", "-0.0", "1.5", "1.50", "0.1", "0.10", "0.30000000000000004", "1e3", "1E3",
	"1e-3", "1.5e10", "1.5e+10", "-2.5e-7", "1e400", "1e-400", "1.764123456789012345e+09", "1764123456.789012345",
	"3.14159265358979323846264338327950288", "0.1000000000000000000001", "0.10000000000000000000", "100.000",
}

// oddTexts are number texts no JSON or Rego parser produces; OPA panics on
// some of them, and the native versions must behave the same.
var oddTexts = []string{"5.", ".5", "+5", "007", "00", "1e", "0x10", "-", "", "1/2", "Inf", "1e1234567890"}

// randNumberText returns a random number text: mostly integers of every
// size, sometimes fractions and exponents.
func randNumberText(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return numberTexts[r.IntN(len(numberTexts))]
	case 1, 2, 3:
		n := r.Int64N(1 << r.IntN(63))
		if r.IntN(2) == 0 {
			n = -n
		}
		return strconv.FormatInt(n, 10)
	case 4:
		return strconv.FormatInt(r.Int64N(1000)-500, 10)
	case 5:
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(r.IntN(100000)))
		if r.IntN(2) == 0 {
			b.WriteByte('.')
			for range r.IntN(25) + 1 {
				b.WriteByte(byte('0' + r.IntN(10)))
			}
		}
		if r.IntN(2) == 0 {
			b.WriteString([]string{"e", "E", "e+", "e-"}[r.IntN(4)])
			b.WriteString(strconv.Itoa(r.IntN(30)))
		}
		return b.String()
	case 6:
		k := r.IntN(19)
		p := int64(1)
		for range k {
			p *= 10
		}
		if r.IntN(2) == 0 {
			p = -p
		}
		return strconv.FormatInt(p, 10)
	default:
		return strconv.FormatFloat(r.NormFloat64()*float64(r.IntN(1e6)), 'g', -1, 64)
	}
}

// randTerm returns a random term, mostly numbers.
func randTerm(r *rand.Rand) *ast.Term {
	switch r.IntN(12) {
	case 0:
		return ast.NullTerm()
	case 1:
		return ast.BooleanTerm(r.IntN(2) == 0)
	case 2:
		return ast.StringTerm([]string{"", "a", "b", "é", "10", "/people/x"}[r.IntN(6)])
	case 3:
		return ast.ArrayTerm(num(randNumberText(r)), ast.StringTerm("x"))
	case 4:
		return ast.ObjectTerm(ast.Item(ast.StringTerm("k"), num(randNumberText(r))))
	case 5:
		return ast.SetTerm(num(randNumberText(r)))
	default:
		return num(randNumberText(r))
	}
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

var fixedNow = time.Date(2025, 11, 26, 1, 2, 3, 456789012, time.UTC)

// benchPair benchmarks the native version and OPA's built-in on args.
func benchPair(b *testing.B, bctx *topdown.BuiltinContext, name string, args []*ast.Term) {
	f, opa := Lookup(name), opaBuiltin(name)
	b.Run("native/"+name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f(bctx, args); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("opa/"+name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := opa(bctx, args); err != nil {
				b.Fatal(err)
			}
		}
	})
}
