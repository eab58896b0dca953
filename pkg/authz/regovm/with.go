package regovm

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// with runs the body with the local replaced (or, with a path, a copy of
// it upserted) and a fresh memo, restoring both afterwards, as the Wasm
// compiler's opa_memoize_push/pop around the block: memoized rules read
// input and data, which the body sees changed.
func (e *evaluator) with(f []*ast.Term, s *sWith) (int, error) {
	saved := f[s.local]
	value := e.read(f, s.value)
	if len(s.path) == 0 {
		f[s.local] = value
	} else {
		f[s.local] = upsert(materialize(saved), s.path, value)
	}
	savedMemo := e.memo
	e.memo = make([]memoEntry, len(savedMemo))

	ctl, err := e.exec(f, s.body)

	e.memo = savedMemo
	f[s.local] = saved
	switch {
	case err != nil:
		return 0, err
	case ctl == ctlDone:
		return ctlDone, nil
	case ctl == ctlReturn:
		return ctl, nil
	case ctl == 0:
		return 0, nil // the body is undefined: so is the with statement
	}
	return ctl - 1, nil
}

// upsert returns a copy of doc with value at path, copying (shallowly)
// each object on the way and creating the missing ones, as the Wasm
// compiler's compileUpsert. An undefined doc starts as an empty object.
func upsert(doc *ast.Term, path []*ast.Term, value *ast.Term) *ast.Term {
	var root *ast.Term
	if o, ok := docObject(doc); ok {
		root = copyObject(o)
	} else {
		root = ast.NewTerm(ast.NewObject())
	}
	curr := root
	i := 0
	for ; i < len(path)-1; i++ {
		next := curr.Value.(ast.Object).Get(path[i])
		if next == nil {
			break
		}
		o, ok := next.Value.(ast.Object)
		if !ok {
			break
		}
		next = copyObject(o)
		curr.Value.(ast.Object).Insert(path[i], next)
		curr = next
	}
	for ; i < len(path)-1; i++ {
		next := ast.NewTerm(ast.NewObject())
		curr.Value.(ast.Object).Insert(path[i], next)
		curr = next
	}
	curr.Value.(ast.Object).Insert(path[len(path)-1], value)
	return root
}

// docObject is doc's object, if doc is defined and is one.
func docObject(doc *ast.Term) (ast.Object, bool) {
	if doc == nil {
		return nil, false
	}
	o, ok := doc.Value.(ast.Object)
	return o, ok
}
