package fastbuiltin

import (
	"context"
	"fmt"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
)

// primerCalls are the built-in calls one decision of the OPA primer's JWT
// RBAC policy (test/authz/testdata/primer_rbac.rego) makes, in order,
// each argument a constant or the result of an earlier call.
type primerCall struct {
	name string
	args func(results []*ast.Term) []*ast.Term
}

func primerCalls() []primerCall {
	token := hs256(stdHeader, fmt.Sprintf(`{"role":"admin","sub":"YWxpY2U","nbf":%d,"exp":%d}`,
		fixedNow.Unix()-60, fixedNow.Unix()+3600), "secret")
	header := ast.StringTerm("Bearer " + token)
	constraints := ast.ObjectTerm(ast.Item(ast.StringTerm("secret"), ast.StringTerm("secret")))
	path := ast.StringTerm("/people")
	space, billion, pattern := ast.StringTerm(" "), ast.IntNumberTerm(1000000000), ast.StringTerm("/people")
	delims, firstname := ast.ArrayTerm(ast.StringTerm("/")), ast.StringTerm("Bob")
	nbf, exp, sub := ast.StringTerm("nbf"), ast.StringTerm("exp"), ast.StringTerm("sub")
	return []primerCall{
		{"split", func([]*ast.Term) []*ast.Term { return []*ast.Term{header, space} }},
		{"io.jwt.decode_verify", func(r []*ast.Term) []*ast.Term {
			return []*ast.Term{r[0].Value.(*ast.Array).Elem(1), constraints}
		}},
		{"time.now_ns", func([]*ast.Term) []*ast.Term { return nil }},
		{"div", func(r []*ast.Term) []*ast.Term { return []*ast.Term{r[2], billion} }},
		{"lte", func(r []*ast.Term) []*ast.Term { return []*ast.Term{claim(r[1], nbf), r[3]} }},
		{"lt", func(r []*ast.Term) []*ast.Term { return []*ast.Term{r[3], claim(r[1], exp)} }},
		{"glob.match", func([]*ast.Term) []*ast.Term {
			return []*ast.Term{pattern, delims, path}
		}},
		{"lower", func([]*ast.Term) []*ast.Term { return []*ast.Term{firstname} }},
		{"base64url.decode", func(r []*ast.Term) []*ast.Term { return []*ast.Term{claim(r[1], sub)} }},
		{"neq", func(r []*ast.Term) []*ast.Term { return []*ast.Term{r[7], r[8]} }},
	}
}

func claim(verified *ast.Term, name *ast.Term) *ast.Term {
	return verified.Value.(*ast.Array).Elem(2).Value.(ast.Object).Get(name)
}

// runPrimer makes the calls with call and checks the decision's inputs
// (verified token, time window, path match).
func runPrimer(calls []primerCall, results []*ast.Term, call func(name string, args []*ast.Term) (*ast.Term, error)) error {
	for i, c := range calls {
		out, err := call(c.name, c.args(results))
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		results[i] = out
	}
	for _, i := range []int{4, 5, 6, 9} {
		if results[i].String() != "true" {
			return fmt.Errorf("%s = %v, want true", calls[i].name, results[i])
		}
	}
	return nil
}

// TestPrimerCallsMatchOPA runs the primer's calls natively and with OPA.
func TestPrimerCallsMatchOPA(t *testing.T) {
	calls := primerCalls()
	bctx := testBctx(fixedNow)
	native, opa := make([]*ast.Term, len(calls)), make([]*ast.Term, len(calls))
	for range 2 { // miss, then hit
		if err := runPrimer(calls, native, func(n string, a []*ast.Term) (*ast.Term, error) { return Lookup(n)(bctx, a) }); err != nil {
			t.Fatal(err)
		}
		if err := runPrimer(calls, opa, func(n string, a []*ast.Term) (*ast.Term, error) { return CallOPA(n, bctx, a) }); err != nil {
			t.Fatal(err)
		}
		for i := range calls {
			if !native[i].Equal(opa[i]) || native[i].String() != opa[i].String() {
				t.Fatalf("%s: native %v, OPA %v", calls[i].name, native[i], opa[i])
			}
		}
	}
}

// BenchmarkPrimerSet is the built-in work of one primer decision: native,
// and OPA's built-ins with an inter-query value cache that holds JWTs (so
// that decode_verify is a cache hit, as in a tuned OPA deployment).
func BenchmarkPrimerSet(b *testing.B) {
	calls := primerCalls()
	results := make([]*ast.Term, len(calls))
	bctx := testBctx(fixedNow)
	funcs := make(map[string]Func)
	for _, c := range calls {
		funcs[c.name] = Lookup(c.name)
	}
	b.Run("native", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := runPrimer(calls, results, func(n string, a []*ast.Term) (*ast.Term, error) {
				return funcs[n](bctx, a)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("opa", func(b *testing.B) {
		b.ReportAllocs()
		obctx := *bctx
		obctx.InterQueryBuiltinValueCache = jwtEnabledCache()
		obctx.Metrics = metrics.New()
		opa := make(map[string]Func)
		for _, c := range calls {
			opa[c.name] = opaBuiltin(c.name)
		}
		for b.Loop() {
			if err := runPrimer(calls, results, func(n string, a []*ast.Term) (*ast.Term, error) {
				return opa[n](&obctx, a)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// jwtEnabledCache is an inter-query value cache with OPA's io_jwt named
// cache enabled (it is disabled by default).
func jwtEnabledCache() cache.InterQueryValueCache {
	enabled, n := false, 1000
	return cache.NewInterQueryValueCache(context.Background(), &cache.Config{
		InterQueryBuiltinValueCache: cache.InterQueryBuiltinValueCacheConfig{
			NamedCacheConfigs: map[string]*cache.NamedValueCacheConfig{
				"io_jwt": {Disabled: &enabled, MaxNumEntries: &n},
			},
		},
	})
}
