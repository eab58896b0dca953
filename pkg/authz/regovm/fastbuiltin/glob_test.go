package fastbuiltin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
)

var globPatterns = []string{
	"/people/*", "/people", "/people/**", "*", "**", "*.example.com", "a.*", "{a,b}*", "[a-c]x", "[!a]x",
	"a\\*", "?", "", "[", "{a,", "\\", "a-", "a", "*/*", "*.*", "é*",
}

var globDelims = []*ast.Term{
	ast.NullTerm(), ast.ArrayTerm(), ast.ArrayTerm(ast.StringTerm("/")), ast.ArrayTerm(ast.StringTerm(".")),
	ast.ArrayTerm(ast.StringTerm("/"), ast.StringTerm(".")), ast.ArrayTerm(ast.StringTerm("-"), ast.StringTerm("b")),
	ast.ArrayTerm(ast.StringTerm("b")), ast.ArrayTerm(ast.StringTerm("é")), ast.ArrayTerm(ast.StringTerm("\xff")),
	ast.ArrayTerm(ast.StringTerm("ab")), ast.ArrayTerm(ast.StringTerm("")), ast.ArrayTerm(ast.IntNumberTerm(1)),
	ast.StringTerm("/"), ast.SetTerm(ast.StringTerm("/")),
}

var globSubjects = []string{
	"/people/alice", "/people", "/people/", "/people/a/b", "a.b", "x.example.com", "a.example.com.evil", "ax", "bx",
	"a*", "a", "", "é", "éa", "a-b", "b", "/", "ab",
}

// OPA's answers come from a fresh inter-query cache per call (which OPA
// then uses instead of its global glob cache): OPA's cache keys collide
// (see TestGlobCacheKeysDoNotCollide), so its global cache answers
// depend on the order of calls.
func TestGlobMatchMatchesOPA(t *testing.T) {
	bctx := testBctx(fixedNow)
	check := func(args []*ast.Term) {
		t.Helper()
		got, gotErr := Lookup("glob.match")(bctx, args)
		obctx := *bctx
		obctx.InterQueryBuiltinValueCache = cache.NewInterQueryValueCache(context.Background(), nil)
		want, wantErr := CallOPA("glob.match", &obctx, args)
		sameResult(t, "glob.match", args, got, gotErr, want, wantErr)
	}
	// Twice: the second round runs on cached globs.
	for range 2 {
		for _, p := range globPatterns {
			for _, d := range globDelims {
				for _, s := range globSubjects {
					check([]*ast.Term{ast.StringTerm(p), d, ast.StringTerm(s)})
				}
			}
		}
	}
	check([]*ast.Term{ast.IntNumberTerm(1), ast.NullTerm(), ast.StringTerm("a")})
	check([]*ast.Term{ast.StringTerm("*"), ast.NullTerm(), ast.IntNumberTerm(1)})
}

// OPA's cache key pattern+"-"+delimiters is ambiguous; the native cache
// must not confuse pattern "a-" with delimiter "b" and pattern "a" with
// delimiters "-", "b".
func TestGlobCacheKeysDoNotCollide(t *testing.T) {
	f := Lookup("glob.match")
	d1 := ast.ArrayTerm(ast.StringTerm("b"))
	d2 := ast.ArrayTerm(ast.StringTerm("-"), ast.StringTerm("b"))
	// "a-?" with delimiter b: ? matches any non-b char.
	got1, _ := f(nil, []*ast.Term{ast.StringTerm("a-?"), d1, ast.StringTerm("a-x")})
	// "a?" with delimiters - and b: ? may not match "-".
	got2, _ := f(nil, []*ast.Term{ast.StringTerm("a?"), d2, ast.StringTerm("a-")})
	if got1.String() != "true" || got2.String() != "false" {
		t.Fatalf("got %v, %v; want true, false", got1, got2)
	}
}

func TestGlobCacheIsBoundedAndConcurrent(t *testing.T) {
	f := Lookup("glob.match")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < 3*maxGlobCache; i++ {
				p := fmt.Sprintf("/p%d/*", r.IntN(2*maxGlobCache))
				got, err := f(nil, []*ast.Term{ast.StringTerm(p), ast.ArrayTerm(ast.StringTerm("/")), ast.StringTerm(strings.TrimSuffix(p, "*") + "x")})
				if err != nil || got.String() != "true" {
					errs <- fmt.Errorf("glob.match(%q) = %v, %v", p, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	globs.mu.RLock()
	n := len(globs.m)
	globs.mu.RUnlock()
	if n > maxGlobCache {
		t.Fatalf("glob cache holds %d entries, bound %d", n, maxGlobCache)
	}
}

func BenchmarkGlobMatch(b *testing.B) {
	benchPair(b, testBctx(fixedNow), "glob.match",
		[]*ast.Term{ast.StringTerm("/people/*"), ast.ArrayTerm(ast.StringTerm("/")), ast.StringTerm("/people/alice")})
}

// TestGlobCacheKeepsNoLongPatterns: the cache is bounded in entries, so
// each must be small; a pattern from a request can be as long as its body
// (1024 entries of a megabyte each). Long patterns are OPA's, whose cache
// holds 100.
func TestGlobCacheKeepsNoLongPatterns(t *testing.T) {
	f := Lookup("glob.match")
	for _, n := range []int{maxGlobPattern, maxGlobPattern + 1, 64 << 10} {
		p := strings.Repeat("a", n-1) + "*"
		args := []*ast.Term{ast.StringTerm(p), ast.NullTerm(), ast.StringTerm(strings.Repeat("a", n+3))}
		before := fallbacks.Load()
		got, err := f(nil, args)
		// Up to the bound the native path decides (and caches); past
		// it, OPA does, every time.
		if native := fallbacks.Load() == before; native != (n <= maxGlobPattern) {
			t.Errorf("pattern of %d bytes: decided natively %v, want %v", n, native, n <= maxGlobPattern)
		}
		want, wantErr := CallOPA("glob.match", nil, args)
		if err != nil || wantErr != nil || !got.Equal(want) {
			t.Fatalf("pattern of %d bytes: %v %v, OPA %v %v", n, got, err, want, wantErr)
		}
	}
	globs.mu.RLock()
	defer globs.mu.RUnlock()
	for k := range globs.m {
		if len(k) > maxGlobPattern+16 {
			t.Fatalf("the glob cache holds a key of %d bytes", len(k))
		}
	}
}
