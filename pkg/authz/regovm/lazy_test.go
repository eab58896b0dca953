package regovm

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// testLazy is a Lazy over a plain value: objects and arrays hand out their
// members as further testLazy values, as a lazily converted input would.
// Materializing counts, so tests can see whether the VM materialized.
type testLazy struct {
	t        *ast.Term
	material *int
}

var _ Lazy = (*testLazy)(nil)

// lazyTerm wraps composite values (objects, arrays) in testLazy.
func lazyTerm(t *ast.Term, material *int) *ast.Term {
	if t == nil {
		return nil
	}
	switch t.Value.(type) {
	case ast.Object, *ast.Array:
		return ast.NewTerm(&testLazy{t: t, material: material})
	}
	return t
}

func (l *testLazy) Dot(key *ast.Term) *ast.Term {
	var v *ast.Term
	switch x := l.t.Value.(type) {
	case ast.Object:
		v = x.Get(key)
	case *ast.Array:
		v = x.Get(key)
	}
	return lazyTerm(v, l.material)
}

func (l *testLazy) Materialize() *ast.Term {
	*l.material++
	return l.t
}

func (l *testLazy) Compare(other ast.Value) int {
	if o, ok := other.(Lazy); ok {
		other = o.Materialize().Value
	}
	return l.Materialize().Value.Compare(other)
}
func (l *testLazy) Find(path ast.Ref) (ast.Value, error) { return l.t.Value.Find(path) }
func (l *testLazy) Hash() int                            { return l.t.Value.Hash() }
func (l *testLazy) IsGround() bool                       { return true }
func (l *testLazy) String() string                       { return l.t.Value.String() }
func (l *testLazy) StringLength() int                    { return l.t.Value.StringLength() }
