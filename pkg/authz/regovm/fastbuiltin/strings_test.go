package fastbuiltin

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

var stringTexts = []string{
	"", " ", "a", "A", "abc", "ABC", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "Bearer", "Bearer ", "  x  ",
	"/people/alice", "/people", "/", "//", "é", "É", "ß", "İ", "ǅ", "\xff", "a\xffb", "日本語", "👍", "a,b,,c,",
	"YWxpY2U", "YWxpY2U=", "YWxpY2U==", "YQ", "YQ=", "YQ==", "YWJj", "Y", "_-_-", "+/+/", "!!!!", "YW Jj",
	"YW\nJj", "YWJj\n", "YQ=\n", "\r\nYQ", "YQ\r\n", "Y=Q", "YQ=x", "====",
	strings.Repeat("QUJD", 100), strings.Repeat("QUJD", 100) + "QQ", strings.Repeat("日本語,", 50),
}

func randString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return stringTexts[r.IntN(len(stringTexts))]
	}
	alphabet := []string{"a", "b", "A", "/", " ", ",", "é", "ß", "İ", "\xff", "=", "-", "_", "Bearer "}
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	if r.IntN(4) == 0 {
		return base64.RawURLEncoding.EncodeToString([]byte(b.String()))
	}
	return b.String()
}

func randStringish(r *rand.Rand) *ast.Term {
	if r.IntN(10) == 0 {
		return randTerm(r)
	}
	return ast.StringTerm(randString(r))
}

func TestStringBuiltinsMatchOPA(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	bctx := testBctx(fixedNow)
	two := []string{"split", "startswith", "endswith", "contains", "trim_prefix", "trim_suffix"}
	one := []string{"lower", "upper", "base64url.decode", "count"}
	for _, name := range two {
		for _, x := range stringTexts {
			for _, y := range stringTexts {
				differential(t, bctx, name, []*ast.Term{ast.StringTerm(x), ast.StringTerm(y)})
			}
		}
		for i := 0; i < 20000; i++ {
			differential(t, bctx, name, []*ast.Term{randStringish(r), randStringish(r)})
		}
	}
	for _, name := range one {
		for _, x := range stringTexts {
			differential(t, bctx, name, []*ast.Term{ast.StringTerm(x)})
		}
		for i := 0; i < 20000; i++ {
			differential(t, bctx, name, []*ast.Term{randStringish(r)})
		}
	}
}

// OPA returns the operand term itself when a transformation changes
// nothing; so does the native version (callers may rely on identity).
func TestStringsKeepOperandTerm(t *testing.T) {
	in := ast.StringTerm("abc")
	for _, c := range []struct {
		name string
		args []*ast.Term
	}{
		{"lower", []*ast.Term{in}},
		{"trim_prefix", []*ast.Term{in, ast.StringTerm("x")}},
		{"trim_suffix", []*ast.Term{in, ast.StringTerm("x")}},
	} {
		got, err := Lookup(c.name)(nil, c.args)
		if err != nil || got != in {
			t.Errorf("%s: got %p %v (err %v), want the operand %p", c.name, got, got, err, in)
		}
	}
}

func TestCountCollectionsMatchOPA(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	bctx := testBctx(fixedNow)
	for i := 0; i < 5000; i++ {
		differential(t, bctx, "count", []*ast.Term{randTerm(r)})
	}
	differential(t, bctx, "count", []*ast.Term{ast.ArrayTerm()})
	differential(t, bctx, "count", []*ast.Term{ast.ObjectTerm()})
	differential(t, bctx, "count", []*ast.Term{ast.SetTerm()})
}

func TestConcatMatchesOPA(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	bctx := testBctx(fixedNow)
	for i := 0; i < 20000; i++ {
		n := r.IntN(5)
		elems := make([]*ast.Term, n)
		for j := range elems {
			elems[j] = randStringish(r)
		}
		coll := ast.ArrayTerm(elems...)
		if r.IntN(4) == 0 {
			coll = ast.SetTerm(elems...)
		}
		differential(t, bctx, "concat", []*ast.Term{randStringish(r), coll})
	}
	long := ast.ArrayTerm(ast.StringTerm(strings.Repeat("x", maxNativeConcat)), ast.StringTerm("y"))
	differential(t, bctx, "concat", []*ast.Term{ast.StringTerm(","), long})
}

func TestMemberMatchesOPA(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	bctx := testBctx(fixedNow)
	for i := 0; i < 20000; i++ {
		elems := []*ast.Term{randTerm(r), randTerm(r), randTerm(r)}
		var coll *ast.Term
		switch r.IntN(4) {
		case 0:
			coll = ast.ArrayTerm(elems...)
		case 1:
			coll = ast.SetTerm(elems...)
		case 2:
			coll = ast.ObjectTerm(ast.Item(ast.StringTerm("a"), elems[0]), ast.Item(ast.StringTerm("b"), elems[1]))
		default:
			coll = randTerm(r)
		}
		differential(t, bctx, "internal.member_2", []*ast.Term{randTerm(r), coll})
	}
	// Equal numbers written differently are members.
	got, _ := Lookup("internal.member_2")(bctx, []*ast.Term{num("1.0"), ast.ArrayTerm(num("1"))})
	if got.String() != "true" {
		t.Fatalf("1.0 in [1] = %v, want true", got)
	}
}

func BenchmarkStrings(b *testing.B) {
	bctx := testBctx(fixedNow)
	hdr := ast.StringTerm("Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiZ3Vlc3QifQ.sig")
	cases := []struct {
		name string
		args []*ast.Term
	}{
		{"split", []*ast.Term{hdr, ast.StringTerm(" ")}},
		{"lower", []*ast.Term{ast.StringTerm("Alice")}},
		{"base64url.decode", []*ast.Term{ast.StringTerm("YWxpY2U")}},
		{"startswith", []*ast.Term{hdr, ast.StringTerm("Bearer ")}},
		{"count", []*ast.Term{hdr}},
		{"concat", []*ast.Term{ast.StringTerm("/"), ast.ArrayTerm(ast.StringTerm("people"), ast.StringTerm("alice"))}},
		{"internal.member_2", []*ast.Term{ast.StringTerm("admin"), ast.ArrayTerm(ast.StringTerm("guest"), ast.StringTerm("admin"))}},
	}
	for _, c := range cases {
		benchPair(b, bctx, c.name, c.args)
	}
}

// TestNativeStringsStayNative: base64url.decode decides every valid
// unpadded or padded text itself (lengths 0, 2 and 3 modulo 4 unpadded),
// and concat every join of strings up to maxNativeConcat bytes, separators
// counted; a join one byte longer goes to OPA. Falling back would be
// correct and slow, which the differential tests cannot see.
func TestNativeStringsStayNative(t *testing.T) {
	bctx := testBctx(fixedNow)
	native := func(name string, args ...*ast.Term) bool {
		t.Helper()
		before := fallbacks.Load()
		got, err := Lookup(name)(bctx, args)
		want, wantErr := CallOPA(name, bctx, args)
		sameResult(t, name, args, got, err, want, wantErr)
		return fallbacks.Load() == before
	}
	for _, s := range []string{"", "YQ", "YWI", "YWJj", "YQ==", "YWI=", "YWJjZA", strings.Repeat("YWJj", 100)} {
		if !native("base64url.decode", ast.StringTerm(s)) {
			t.Errorf("base64url.decode(%q) went to OPA", s)
		}
	}
	// Three elements and a three-byte separator: 6 bytes of separators.
	for _, total := range []int{maxNativeConcat, maxNativeConcat + 1} {
		part := (total - 6) / 3
		arr := ast.ArrayTerm(ast.StringTerm(strings.Repeat("a", part)), ast.StringTerm(strings.Repeat("b", part)),
			ast.StringTerm(strings.Repeat("c", total-6-2*part)))
		if got := native("concat", ast.StringTerm(", -"), arr); got != (total <= maxNativeConcat) {
			t.Errorf("concat of %d bytes decided natively %v", total, got)
		}
	}
}
