package regovm

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// pathModule selects the same paths from input, from a replaced input
// (with), from a memoized rule's value and past undefined members.
const pathModule = `package paths

import rego.v1

tok := {"p": input.a.b, "q": 1}

plain := [input.a.b.c, input.a.b.d]
replaced := v if v := [input.a.b.c, input.a.b.d] with input as {"a": {"b": {"c": "w"}}}
both := [plain, replaced, input.a.b.c]
memo := [tok.p.c, tok.p.d]
after_undefined := [x, y] if {
	x := input.a.b.c
	not input.a.z.c
	y := input.a.b.d
}
partial := [input.a.b.c, input.a.b.d.e]
`

const pathComprehension = `package paths

import rego.v1

r := [v | some v in input.a.b.l]
s := [r, input.a.b.c, input.a.b.l]
`

func pathCaching(p *Program) bool {
	for _, f := range p.funcs {
		for _, b := range f.blocks {
			if cachedPaths(b) {
				return true
			}
		}
	}
	return false
}

func cachedPaths(b *block) bool {
	for _, s := range b.stmts {
		switch s := s.(type) {
		case *sPath:
			if s.ids != nil {
				return true
			}
		case *sBlock:
			for _, x := range s.blocks {
				if cachedPaths(x) {
					return true
				}
			}
		case *sScan:
			if cachedPaths(s.body) {
				return true
			}
		case *sNot:
			if cachedPaths(s.body) {
				return true
			}
		case *sWith:
			if cachedPaths(s.body) {
				return true
			}
		}
	}
	return false
}

func TestPathCacheMatchesTopdown(t *testing.T) {
	inputs := []string{
		`{"a": {"b": {"c": 1, "d": {"e": 2}, "l": [1, 2]}}}`,
		`{"a": {"b": {"c": 1}}}`,
		`{"a": {"b": {"d": "x"}}}`,
		`{"a": {"b": [1, 2]}}`,
		`{"a": {"z": {"c": 1}, "b": {"c": true, "d": false}}}`,
		`{"a": 1}`, `{}`, `[]`, `"a"`,
	}
	for _, c := range []struct {
		src     string
		rules   []string
		caching bool
	}{
		{pathModule, []string{"both", "memo", "after_undefined", "partial"}, true},
		{pathComprehension, []string{"s"}, false},
	} {
		for _, rule := range c.rules {
			p, err := preparePair(t, "data.paths."+rule, module{name: "paths.rego", src: c.src})
			if err != nil {
				t.Fatal(err)
			}
			if got := pathCaching(p.vm); got != c.caching {
				t.Fatalf("%s: path caching %v, want %v", rule, got, c.caching)
			}
			for _, in := range inputs {
				if err := p.compare(ast.MustParseTerm(in)); err != nil {
					t.Errorf("%s: input %s: %v", rule, in, err)
				}
			}
		}
	}
}

// The caller may reuse one input term for the next evaluation (the
// service pools its inputs): nothing is cached across evaluations.
func TestPathCacheIsPerEvaluation(t *testing.T) {
	p, err := preparePair(t, "data.paths.plain", module{name: "paths.rego", src: pathModule})
	if err != nil {
		t.Fatal(err)
	}
	input := ast.MustParseTerm(`{"a": {"b": {"c": 1}}}`)
	for _, want := range []string{`[1, 2]`, `[3, 4]`, `[1, 2]`} {
		input.Value = ast.MustParseTerm(`{"a": {"b": {"c": ` + want[1:2] + `, "d": ` + want[4:5] + `}}}`).Value
		got, err := p.vm.EvalValue(EvalOptions{Input: input})
		if err != nil || got == nil || got.String() != want {
			t.Fatalf("got %v %v, want %s", got, err, want)
		}
	}
}
