package regovm

import (
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// Path caching: rules select the same members again and again
// (input.attributes.request.http in every action_allowed body, the
// payload of the memoized token in every time check). Each prefix of a
// fused path's keys has a Program-wide id, and an evaluation remembers,
// per id, the root term the prefix was last selected from and its value;
// a walk from the same root term reuses it.
//
// That is sound only if a value never changes once a statement other than
// its own construction has seen it: then the same root term and keys give
// the same member. The VM changes values only by mutations (inserts,
// appends, adds), so paths are cached only in plans where every mutation
// is in the run right after its local's Make (allRuns) and every mutated
// local is written by Makes alone (foldOK): a value is complete before
// anything else reads it. Lazy values answer Dot the same every time.
// (Runs here are construction groups, see foldInfo.inGroups: nested
// literals are built by all their Makes and then their inserts.)

// pathEntry is the last selection of one path prefix in an evaluation.
type pathEntry struct {
	root, val *ast.Term // val is never nil
}

// allRuns reports whether every mutation in the policy is in a
// construction group, after a Make of its target.
func allRuns(p *ir.Policy) bool {
	check := func(params []ir.Local, blocks []*ir.Block) bool {
		info := analyzeFold(params, blocks)
		for l, n := range info.mutations {
			if info.inGroups[l] != n {
				return false
			}
		}
		return true
	}
	if p.Funcs != nil {
		for _, f := range p.Funcs.Funcs {
			if !check(f.Params, f.Blocks) {
				return false
			}
		}
	}
	for _, pl := range p.Plans.Plans {
		if !check([]ir.Local{ir.Input, ir.Data}, pl.Blocks) {
			return false
		}
	}
	return true
}

// pathIDs gives each prefix of keys its Program-wide id.
func (c *compiler) pathIDs(keys []*ast.Term) []int {
	ids := make([]int, len(keys))
	var b strings.Builder
	for i, k := range keys {
		// Key texts are unambiguous: strings are quoted, booleans not.
		b.WriteString(k.String())
		b.WriteByte(0)
		id, ok := c.paths[b.String()]
		if !ok {
			id = len(c.paths)
			c.paths[b.String()] = id
		}
		ids[i] = id
	}
	return ids
}

// path runs a fused path; false means undefined.
func (e *evaluator) path(f []*ast.Term, s *sPath) bool {
	root := f[s.source]
	if root == nil {
		return false
	}
	src := root
	for i, key := range s.keys {
		if s.ids != nil {
			if pe := &e.paths[s.ids[i]]; pe.root == root {
				src = pe.val
				f[s.targets[i]] = src
				continue
			}
		}
		src = dot(src.Value, key)
		if src == nil {
			return false
		}
		if s.ids != nil {
			e.paths[s.ids[i]] = pathEntry{root: root, val: src}
		}
		f[s.targets[i]] = src
	}
	return true
}
