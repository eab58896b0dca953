package authz

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// inputNeed is the part of the input a compiled policy can read: the
// paths of constant keys its rules and query reference below input. A
// subtree that no reference reaches cannot affect a decision, so Check
// does not build it; building the whole opa-envoy-plugin input (every
// header, the peers, the metadata) costs more than many evaluations.
type inputNeed struct {
	all    bool // everything below this point may be read
	fields map[string]*inputNeed
}

// needAll is the whole input: what a policy gets when its references
// cannot be bounded (input used as a value, keys chosen at run time).
var needAll = &inputNeed{all: true}

// child is the need below key; nil when nothing below key is read.
func (n *inputNeed) child(key string) *inputNeed {
	if n.all {
		return needAll
	}
	return n.fields[key]
}

// add records that path (the reference's terms after input) may be read.
func (n *inputNeed) add(path ast.Ref) {
	for _, t := range path {
		if n.all {
			return
		}
		s, ok := t.Value.(ast.String)
		if !ok { // a variable or computed key: any key at this level
			break
		}
		if n.fields == nil {
			n.fields = map[string]*inputNeed{}
		}
		c := n.fields[string(s)]
		if c == nil {
			c = &inputNeed{}
			n.fields[string(s)] = c
		}
		n = c
	}
	n.all, n.fields = true, nil
}

// inputNeedOf collects the input references of the rules the query can
// reach and of the query itself. Compiled rules have imports resolved
// (import input.attributes.request.http makes http.method a full
// reference), references to rules made absolute and locals renamed, so any
// remaining var input is the input document and any var data the whole of
// data.
func inputNeedOf(c *ast.Compiler, query ast.Body) *inputNeed {
	root := &inputNeed{}
	seen := map[*ast.Rule]bool{}
	var queue []*ast.Rule
	allRules := false
	reach := func(prefix ast.Ref) {
		for _, r := range rulesAlong(c.RuleTree, prefix) {
			if !seen[r] {
				seen[r] = true
				queue = append(queue, r)
			}
		}
	}
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case ast.Ref:
			switch {
			case x[0].Value.Compare(ast.InputRootDocument.Value) == 0:
				root.add(x[1:])
			case x[0].Value.Compare(ast.DefaultRootDocument.Value) == 0:
				reach(constPrefix(x))
			default:
				return false
			}
			// Keys of this reference may themselves read the input or data.
			for _, t := range x[1:] {
				vis.Walk(t)
			}
			return true
		case ast.Var:
			if x.Equal(ast.InputRootDocument.Value) {
				root.add(nil) // the whole input as a value
			}
			if x.Equal(ast.DefaultRootDocument.Value) {
				allRules = true
			}
		}
		return false
	})
	vis.Walk(query)
	for len(queue) > 0 && !allRules && !root.all {
		r := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		vis.Walk(r)
	}
	if allRules {
		// data as a value reaches every rule: read what any rule reads.
		for _, m := range c.Modules {
			for _, r := range m.Rules {
				vis.Walk(r)
			}
		}
	}
	if root.all {
		return needAll
	}
	return root
}

// constPrefix is ref up to its first term that is not a constant string:
// everything below it may be selected.
func constPrefix(ref ast.Ref) ast.Ref {
	for i, t := range ref[1:] {
		if _, ok := t.Value.(ast.String); !ok {
			return ref[:i+1]
		}
	}
	return ref
}

// rulesAlong returns the rules a reference to prefix may evaluate: those
// defined at each step of the path (a rule may produce a document that
// contains the rest of the path) and every rule below it, hidden or not.
func rulesAlong(tree *ast.TreeNode, prefix ast.Ref) []*ast.Rule {
	var out []*ast.Rule
	node := tree
	for _, t := range prefix {
		if node = node.Child(t.Value); node == nil {
			return out
		}
		out = append(out, node.Values...)
	}
	node.DepthFirst(func(n *ast.TreeNode) bool {
		if n != node {
			out = append(out, n.Values...)
		}
		return false
	})
	return out
}
