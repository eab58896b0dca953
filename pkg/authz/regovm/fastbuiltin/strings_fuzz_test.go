package fastbuiltin

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// FuzzStrings holds the native string and glob built-ins to OPA's on
// arbitrary strings (results and undefined alike).
func FuzzStrings(f *testing.F) {
	f.Add("Bearer a.b.c", " ", "/people/*")
	f.Add("", "", "")
	f.Add("aGVsbG8", "=", "*.x")
	f.Add("a\xffb", "\xff", "{a,b}")
	f.Fuzz(func(t *testing.T, x, y, z string) {
		X, Y, Z := ast.StringTerm(x), ast.StringTerm(y), ast.StringTerm(z)
		calls := []struct {
			name string
			args []*ast.Term
		}{
			{"split", []*ast.Term{X, Y}},
			{"startswith", []*ast.Term{X, Y}},
			{"endswith", []*ast.Term{X, Y}},
			{"contains", []*ast.Term{X, Y}},
			{"trim_prefix", []*ast.Term{X, Y}},
			{"trim_suffix", []*ast.Term{X, Y}},
			{"lower", []*ast.Term{X}},
			{"upper", []*ast.Term{X}},
			{"base64url.decode", []*ast.Term{X}},
			{"count", []*ast.Term{X}},
			{"concat", []*ast.Term{Y, ast.ArrayTerm(X, Z)}},
			{"glob.match", []*ast.Term{Z, ast.NullTerm(), X}},
			{"glob.match", []*ast.Term{Z, ast.ArrayTerm(Y), X}},
			{"glob.match", []*ast.Term{Z, ast.ArrayTerm(), X}},
		}
		for _, c := range calls {
			got, err := Lookup(c.name)(nil, c.args)
			want, wantErr := CallOPA(c.name, nil, c.args)
			if (err != nil) != (wantErr != nil) || (got == nil) != (want == nil) || (got != nil && !got.Equal(want)) {
				t.Fatalf("%s%v: native %v %v, OPA %v %v", c.name, c.args, got, err, want, wantErr)
			}
		}
	})
}
