package regovm

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// record is an object literal with constant string keys, such as the
// primer's token := {"valid": valid, "payload": payload}, built by the VM
// as a Lazy: its members are selected by DotStmts (token.payload.exp)
// without the hashing and the six allocations of an ast.Object, which is
// built only if the value is used as a whole (Materialize). Compile makes
// a record only of a literal nothing can insert into afterwards (see
// compiler.record), so the record and its object never differ.
type record struct {
	keys []string    // distinct; shared by every evaluation
	ks   []*ast.Term // the keys as terms, for Materialize
	vals []*ast.Term // never Lazy, never nil
	mat  *ast.Term
}

// recordBox holds a record and its term in one allocation; vals of up to
// four members live in it too.
type recordBox struct {
	term ast.Term
	rec  record
	buf  [4]*ast.Term
}

var _ Lazy = (*record)(nil)

func newRecord(s *sMakeRecord) (*ast.Term, *record) {
	b := &recordBox{rec: record{keys: s.keys, ks: s.keyTerms}}
	if len(s.keys) <= len(b.buf) {
		b.rec.vals = b.buf[:len(s.keys)]
	} else {
		b.rec.vals = make([]*ast.Term, len(s.keys))
	}
	b.term.Value = &b.rec
	return &b.term, &b.rec
}

// Dot is the object's Get: only a string key can equal a string key.
func (r *record) Dot(key *ast.Term) *ast.Term {
	if r.mat != nil {
		return r.mat.Value.(ast.Object).Get(key)
	}
	s, ok := key.Value.(ast.String)
	if !ok {
		return nil
	}
	for i, k := range r.keys {
		if k == string(s) {
			return r.vals[i]
		}
	}
	return nil
}

// Materialize builds the object the MakeObjectStmt and its inserts would
// have built, once.
func (r *record) Materialize() *ast.Term {
	if r.mat == nil {
		o := ast.NewObjectWithCapacity(len(r.keys))
		for i, k := range r.ks {
			o.Insert(k, r.vals[i])
		}
		r.mat = ast.NewTerm(o)
	}
	return r.mat
}

func (r *record) Compare(other ast.Value) int {
	if l, ok := other.(Lazy); ok {
		other = l.Materialize().Value
	}
	return r.Materialize().Value.Compare(other)
}
func (r *record) Find(path ast.Ref) (ast.Value, error) { return r.Materialize().Value.Find(path) }
func (r *record) Hash() int                            { return r.Materialize().Value.Hash() }
func (r *record) IsGround() bool                       { return r.Materialize().Value.IsGround() }
func (r *record) String() string                       { return r.Materialize().Value.String() }
func (r *record) StringLength() int                    { return r.Materialize().Value.StringLength() }

// record compiles the object literal at stmts[0] into an sMakeRecord when
// it can be one, and returns the number of statements it spans: a
// MakeObjectStmt and the run of ObjectInsertStmts into it, with distinct
// constant string keys and values that are not the object itself, when
// every mutation of any local is a Make's (c.foldOK) and every mutation of
// this one is in a run of its own Make, so nothing inserts into the value
// later; not when the object is a row (ResultSetAdd materializes it at
// once).
func (c *compiler) record(stmts []ir.Stmt) (*sMakeRecord, int) {
	mo, ok := stmts[0].(*ir.MakeObjectStmt)
	if !ok || !c.foldOK || c.foldInfo.inRuns[mo.Target] != c.foldInfo.mutations[mo.Target] {
		return nil, 0
	}
	n := insertsInto(stmts[1:], mo.Target)
	if n == 0 {
		return nil, 0
	}
	if 1+n < len(stmts) {
		if rs, ok := stmts[1+n].(*ir.ResultSetAddStmt); ok && rs.Value == mo.Target {
			return nil, 0
		}
	}
	r := &sMakeRecord{target: c.local(mo.Target)}
	seen := map[string]bool{}
	for _, s := range stmts[1 : 1+n] {
		ins, ok := s.(*ir.ObjectInsertStmt)
		if !ok {
			return nil, 0
		}
		k := c.constOperand(ins.Key)
		if k == nil {
			return nil, 0
		}
		ks, ok := k.Value.(ast.String)
		if !ok || seen[string(ks)] {
			return nil, 0
		}
		seen[string(ks)] = true
		if l, ok := ins.Value.Value.(ir.Local); ok && l == mo.Target {
			return nil, 0
		}
		v, err := c.operand(ins.Value)
		if err != nil {
			return nil, 0
		}
		r.keys = append(r.keys, string(ks))
		r.keyTerms = append(r.keyTerms, k)
		r.vals = append(r.vals, v)
	}
	return r, 1 + n
}
