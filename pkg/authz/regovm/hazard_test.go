package regovm

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// aliasModule hands folded literals, records, memoized values and the JWT
// cache's shared result to built-ins that build new values from their
// operands, to comprehensions, ref heads and `with`: if anything mutated a
// value shared between evaluations, a later evaluation would differ.
const aliasModule = `package alias

import rego.v1

tok := io.jwt.decode_verify(trim_prefix(input.token, "Bearer "), {"secret": "secret"})
payload := tok[2]

lit := {"a": "x", "n": {"m": "y"}}

r.a.b := {"c": "d"}
r.a.e := "f"
r.a.g := payload

out := {
	"u1": object.union(lit, input.o),
	"u2": object.union(payload, {"added": "z"}),
	"u3": json.patch({"a": "b"}, [{"op": "add", "path": "/c", "value": "d"}]),
	"u4": json.patch(payload, [{"op": "add", "path": "/zz", "value": "d"}]),
	"u5": object.remove(payload, ["sub"]),
	"u6": array.concat(["a", "b"], input.arr),
	"u7": sort(["b", "a", "c"]),
	"u8": json.remove({"a": {"b": "c", "d": "e"}}, ["a/b"]),
	"u9": object.filter(payload, ["sub"]),
	"u10": [x | some x in ["p", "q"]],
	"u11": {k: v | some k, v in {"a": "b"}},
	"u12": union({{"a", "b"}, {"c"}}),
	"u13": array.reverse(["a", "b"]),
	"u14": json.filter(payload, ["role"]),
	"u15": object.union_n([payload, {"a": "b"}, lit]),
	"u16": [p | walk(lit, [p, _])],
	"u17": [p | walk(payload, [p, _])],
	"u18": {x | some x in ["a", "b"]} | {"c"},
	"u19": object.union(r, {"a": {"b": {"q": "w"}}}),
	"u20": v,
	"u21": json.patch(tok, [{"op": "replace", "path": "/2/role", "value": "x"}]),
	"u22": object.union(input.o, lit),
	"u23": sort({"b", "a"}),
	"u24": array.slice(["a", "b", "c"], 1, 3),
	"u25": [w | some w in lit],
}

v := [payload.role, lit, q] if {
	q := lit.n with input.o as {"a": "other"}
}
`

func aliasInputs(t testing.TB, now time.Time) []*ast.Term {
	var out []*ast.Term
	for i, role := range []string{"admin", "guest"} {
		out = append(out, ast.MustParseTerm(fmt.Sprintf(
			`{"token": %q, "o": {"a": "o%d", "n": {"k": "v"}}, "arr": ["z%d"]}`,
			primerToken(t, "secret", role, fmt.Sprint("bob", i), now), i, i)))
	}
	return out
}

// TestRepeatedEvalsAgree evaluates the same inputs again and again, in
// turn, each time against topdown: a value shared between evaluations
// (a folded literal, the JWT cache's result) that some statement or
// built-in changed would make a later evaluation differ.
func TestRepeatedEvalsAgree(t *testing.T) {
	p, err := preparePair(t, "data.alias.out", module{"alias.rego", aliasModule})
	if err != nil {
		t.Fatal(err)
	}
	ins := aliasInputs(t, p.now)
	for round := 0; round < 3; round++ {
		for i, in := range ins {
			if err := p.compare(in); err != nil {
				t.Fatalf("round %d, input %d: %v", round, i, err)
			}
		}
	}
}

// TestConcurrentEvalsAgree runs Programs over several inputs, plain and
// Lazy, from several goroutines (run with -race): per-evaluation state in
// pooled evaluators, the path cache, records and the JWT cache must not
// leak between evaluations.
func TestConcurrentEvalsAgree(t *testing.T) {
	alias, err := preparePair(t, "data.alias.out", module{"alias.rego", aliasModule})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := preparePair(t, "data.paths.all", module{"paths.rego", pathModule + "\nall := [plain, memo, after_undefined, partial]\n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, cached := features(paths.vm); cached == 0 {
		t.Fatal("the paths module has no cached paths")
	}
	type job struct {
		p    *pair
		in   *ast.Term
		want string
	}
	var jobs []job
	add := func(p *pair, ins []*ast.Term) {
		for _, in := range ins {
			o := p.topdown(in)
			if o.err != nil || len(o.rows) != 1 {
				t.Fatalf("topdown: %v", o)
			}
			jobs = append(jobs, job{p, in, o.rows[0]})
		}
	}
	add(alias, aliasInputs(t, alias.now))
	add(paths, []*ast.Term{
		ast.MustParseTerm(`{"a": {"b": {"c": 1, "d": {"e": 2}}}}`),
		ast.MustParseTerm(`{"a": {"b": {"c": "x", "d": {"e": "y"}}}}`),
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 80; n++ {
				j := jobs[(g+n)%len(jobs)]
				in := j.in
				if n%2 == 1 {
					var m int
					in = lazyTerm(in, &m)
				}
				v, err := j.p.vm.EvalValue(EvalOptions{Context: context.Background(), Input: in, Time: j.p.now})
				if err != nil || v == nil || v.String() != j.want {
					errs <- fmt.Errorf("goroutine %d, eval %d: %v %v, want %s", g, n, v, err, j.want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// features counts, over every function of p, the folded composite
// literals, the records and the cached paths: what a test of sharing
// means to exercise.
func features(p *Program) (folded, records, cached int) {
	var walk func(b *block)
	walk = func(b *block) {
		for _, s := range b.stmts {
			switch s := s.(type) {
			case *sConst:
				switch s.value.Value.(type) {
				case ast.Object, *ast.Array, ast.Set:
					folded++
				}
			case *sMakeRecord:
				records++
			case *sPath:
				if s.ids != nil {
					cached++
				}
			case *sBlock:
				for _, x := range s.blocks {
					walk(x)
				}
			case *sScan:
				walk(s.body)
			case *sNot:
				walk(s.body)
			case *sWith:
				walk(s.body)
			}
		}
	}
	for _, f := range append([]*function{p.eval}, p.funcs...) {
		for _, b := range f.blocks {
			walk(b)
		}
	}
	return folded, records, cached
}
