package regovm

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// dot is a member of a composite value, as opa_value_get: array elements
// by integer index, object values by key, set elements by themselves.
func dot(v ast.Value, key *ast.Term) *ast.Term {
	switch v := v.(type) {
	case Lazy:
		return v.Dot(key)
	case *ast.Array:
		return v.Get(key)
	case ast.Object:
		return v.Get(key)
	case ast.Set:
		if v.Contains(key) {
			return key
		}
	}
	return nil
}

func isArray(v ast.Value) bool  { _, ok := v.(*ast.Array); return ok }
func isObject(v ast.Value) bool { _, ok := v.(ast.Object); return ok }
func isSet(v ast.Value) bool    { _, ok := v.(ast.Set); return ok }

// length is opa_value_length: element count of composites, byte length of
// strings, 0 for anything else.
func length(v ast.Value) int {
	switch v := v.(type) {
	case *ast.Array:
		return v.Len()
	case ast.Object:
		return v.Len()
	case ast.Set:
		return v.Len()
	case ast.String:
		return len(v)
	}
	return 0
}

// merge is opa_value_merge: a recursive merge of two objects, the first
// winning where either is not an object.
func merge(a, b *ast.Term) *ast.Term {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	ao, ok1 := a.Value.(ast.Object)
	bo, ok2 := b.Value.(ast.Object)
	if !ok1 || !ok2 {
		return a
	}
	out := ast.NewObject()
	ao.Foreach(func(k, v *ast.Term) {
		if other := bo.Get(k); other != nil {
			out.Insert(k, merge(v, other))
		} else {
			out.Insert(k, v)
		}
	})
	bo.Foreach(func(k, v *ast.Term) {
		if ao.Get(k) == nil {
			out.Insert(k, v)
		}
	})
	return ast.NewTerm(out)
}

// copyObject is opa_value_shallow_copy for the objects `with` upserts
// into (upsert replaces anything else by a new object, so no other kind is
// ever copied).
func copyObject(o ast.Object) *ast.Term {
	out := ast.NewObjectWithCapacity(o.Len())
	o.Foreach(func(k, val *ast.Term) { out.Insert(k, val) })
	return ast.NewTerm(out)
}
