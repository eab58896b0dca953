package fastbuiltin

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestSpecializedJWTMatchesGeneral(t *testing.T) {
	nbf, exp := fixedNow.Unix()-60, fixedNow.Unix()+3600
	good := ast.StringTerm(hs256(stdHeader, fmt.Sprintf(`{"role":"admin","nbf":%d,"exp":%d}`, nbf, exp), "secret"))
	other := ast.StringTerm(hs256(stdHeader, fmt.Sprintf(`{"role":"admin","nbf":%d,"exp":%d}`, nbf, exp), "other"))
	constraints := []*ast.Term{
		secretConstraints("secret"),
		secretConstraints("other"),
		secretConstraints("secret", ast.StringTerm("time"), num(fmt.Sprint(exp*1e9+1))),
		secretConstraints("secret", ast.StringTerm("alg"), ast.StringTerm("HS256"), ast.StringTerm("iss"), ast.StringTerm("x")),
	}
	for _, c := range constraints {
		spec := Specialize("io.jwt.decode_verify", []*ast.Term{nil, c})
		if spec == nil {
			t.Fatalf("%v: not specialized", c)
		}
		// The precomputed encoding is the general key's.
		key, _, _ := jwtCacheKey(nil, "tok", c.Value)
		suffix, _, _ := jwtCacheKey(nil, "", c.Value)
		if !bytes.Equal(key, append(appendLenString(nil, "tok"), suffix[1:]...)) {
			t.Fatalf("%v: key encodings differ", c)
		}
		for _, tok := range []*ast.Term{good, other, ast.StringTerm("x.y.z"), ast.IntNumberTerm(1)} {
			for _, now := range []time.Time{fixedNow, time.Unix(exp+1, 0), time.Unix(nbf-1, 0)} {
				bctx := testBctx(now)
				for range 2 { // a miss, then a hit
					args := []*ast.Term{tok, c}
					got, gotErr := spec(bctx, args)
					want, wantErr := CallOPA("io.jwt.decode_verify", bctx, args)
					sameResult(t, "io.jwt.decode_verify", args, got, gotErr, want, wantErr)
				}
				// Another constraints term than the constant: the general path.
				args := []*ast.Term{tok, secretConstraints("other")}
				got, gotErr := spec(bctx, args)
				want, wantErr := CallOPA("io.jwt.decode_verify", bctx, args)
				sameResult(t, "io.jwt.decode_verify", args, got, gotErr, want, wantErr)
			}
		}
	}
	for _, c := range []*ast.Term{ast.StringTerm("secret"), ast.ObjectTerm(ast.Item(ast.StringTerm("bogus"), ast.StringTerm("x")))} {
		if Specialize("io.jwt.decode_verify", []*ast.Term{nil, c}) != nil {
			t.Fatalf("%v: specialized although the cache does not model it", c)
		}
	}
	if Specialize("io.jwt.decode_verify", []*ast.Term{good, nil}) != nil || Specialize("split", []*ast.Term{nil, ast.StringTerm(" ")}) != nil {
		t.Fatal("specialized without anything to gain")
	}
}

// TestSpecializeOnlyJWT: only io.jwt.decode_verify with its constraints
// constant is specialized; another built-in given the same constants, or
// decode_verify without them, keeps Lookup's version.
func TestSpecializeOnlyJWT(t *testing.T) {
	c := ast.ObjectTerm(ast.Item(ast.StringTerm("secret"), ast.StringTerm("secret")))
	if Specialize(ast.JWTDecodeVerify.Name, []*ast.Term{nil, c}) == nil {
		t.Fatal("decode_verify with constant constraints not specialized")
	}
	for name, consts := range map[string][]*ast.Term{
		ast.Concat.Name:          {nil, c},
		ast.GlobMatch.Name:       {nil, c},
		ast.JWTDecodeVerify.Name: {c, nil},
	} {
		if Specialize(name, consts) != nil {
			t.Errorf("%s with constants %v specialized", name, consts)
		}
	}
	if Specialize(ast.JWTDecodeVerify.Name, []*ast.Term{nil, c, c}) != nil {
		t.Error("decode_verify with three constants specialized")
	}
}
