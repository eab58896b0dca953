package regovm

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/gatehouse-dev/gatehouse/pkg/authz/regovm/fastbuiltin"
)

// exec runs the statements of b over frame f. It returns ctlDone when all
// ran, ctlReturn after a ReturnLocalStmt, or the number of blocks to leave
// beyond b after a break or an undefined statement (0: just b).
func (e *evaluator) exec(f []*ast.Term, b *block) (int, error) {
	for i, s := range b.stmts {
		// An opcode switch is a jump table; the assertion that follows
		// is one comparison of the type word.
		switch b.ops[i] {
		case opDot:
			s := s.(*sDot)
			src := e.readRaw(f, s.source)
			if s.source.c != nil || src == nil {
				// As in Wasm, constant sources (strings, booleans) have no
				// members.
				return 0, nil
			}
			key := e.read(f, s.key)
			if key == nil {
				return 0, nil
			}
			v := dot(src.Value, key)
			if v == nil {
				return 0, nil
			}
			f[s.target] = v
		case opPath:
			if !e.path(f, s.(*sPath)) {
				return 0, nil
			}
		case opEqual:
			s := s.(*sEqual)
			a, b := e.read(f, s.a), e.read(f, s.b)
			if a == nil || b == nil || fastbuiltin.Compare(a.Value, b.Value) != 0 {
				return 0, nil
			}
		case opNotFalse:
			// Values of other types never compare equal to false, so a
			// Lazy (never a boolean) passes without being materialized.
			v := f[s.(*sNotFalse).source]
			if v == nil {
				return 0, nil
			}
			if b, ok := v.Value.(ast.Boolean); ok && !bool(b) {
				return 0, nil
			}
		case opNotEqual:
			s := s.(*sNotEqual)
			a, b := e.read(f, s.a), e.read(f, s.b)
			if a == nil || b == nil || fastbuiltin.Compare(a.Value, b.Value) == 0 {
				return 0, nil
			}
		case opAssignVar:
			s := s.(*sAssignVar)
			f[s.target] = e.readRaw(f, s.source)
		case opCall:
			s := s.(*sCall)
			if e.canceled() {
				return 0, cancelError()
			}
			v, err := e.call(f, s)
			if err != nil {
				return 0, err
			}
			if v == nil {
				return 0, nil
			}
			f[s.result] = v
		case opCallBuiltin:
			s := s.(*sCallBuiltin)
			v, err := e.callBuiltin(f, s)
			if err != nil {
				return 0, err
			}
			if v == nil {
				if !s.bi.void {
					return 0, nil
				}
			} else {
				f[s.result] = v
			}
		case opConst:
			s := s.(*sConst)
			f[s.target] = s.value
		case opAssignInt:
			s := s.(*sAssignInt)
			// The Wasm runtime sets the number in place; the planner only
			// does this to a number it made for itself, so replacing the
			// local is the same.
			f[s.target] = s.value
		case opIsDefined:
			s := s.(*sIsDefined)
			if f[s.source] == nil {
				return 0, nil
			}
		case opIsUndefined:
			s := s.(*sIsUndefined)
			if f[s.source] != nil {
				return 0, nil
			}
		case opResetLocal:
			s := s.(*sResetLocal)
			f[s.target] = nil
		case opAssignVarOnce:
			s := s.(*sAssignVarOnce)
			// Moved as it is, as AssignVar does: a Lazy (a record) stays
			// one until something needs its value.
			v := e.readRaw(f, s.source)
			if cur := f[s.target]; cur != nil {
				if v == nil || fastbuiltin.Compare(materialize(cur).Value, materialize(v).Value) != 0 {
					return 0, conflictError(s.loc, "complete rules must not produce multiple outputs")
				}
				// Equal (1 and 1.0): the first value stays, as in Wasm.
				continue
			}
			f[s.target] = v
		case opReturnLocal:
			s := s.(*sReturnLocal)
			e.ret = f[s.source]
			return ctlReturn, nil
		case opBlock:
			s := s.(*sBlock)
			for _, inner := range s.blocks {
				ctl, err := e.exec(f, inner)
				if err != nil {
					return 0, err
				}
				if ctl == ctlReturn {
					return ctl, nil
				}
				if ctl > 0 {
					return ctl - 1, nil
				}
			}
		case opBreak:
			s := s.(*sBreak)
			return s.index, nil
		case opScan:
			s := s.(*sScan)
			ctl, err := e.scan(f, s)
			if err != nil || ctl != ctlDone {
				return ctl, err
			}
		case opNot:
			s := s.(*sNot)
			ctl, err := e.exec(f, s.body)
			if err != nil {
				return 0, err
			}
			switch {
			case ctl == ctlReturn:
				return ctl, nil
			case ctl == ctlDone:
				return 0, nil // the negated block is defined
			case ctl > 0:
				return ctl - 1, nil
			}
		case opWith:
			s := s.(*sWith)
			ctl, err := e.with(f, s)
			if err != nil || ctl != ctlDone {
				return ctl, err
			}
		case opIsArray:
			s := s.(*sIsArray)
			if v := e.read(f, s.source); s.source.c != nil || v == nil || !isArray(v.Value) {
				return 0, nil
			}
		case opIsObject:
			s := s.(*sIsObject)
			if v := e.read(f, s.source); s.source.c != nil || v == nil || !isObject(v.Value) {
				return 0, nil
			}
		case opIsSet:
			s := s.(*sIsSet)
			if v := e.read(f, s.source); s.source.c != nil || v == nil || !isSet(v.Value) {
				return 0, nil
			}
		case opLen:
			s := s.(*sLen)
			v := e.read(f, s.source)
			if v == nil {
				return 0, nil
			}
			f[s.target] = numberTerm(int64(length(v.Value)))
		case opMakeNull:
			s := s.(*sMakeNull)
			f[s.target] = ast.InternedNullTerm
		case opMakeArray:
			s := s.(*sMakeArray)
			f[s.target] = ast.NewTerm(ast.NewArrayWithCapacity(s.capacity))
		case opMakeObject:
			s := s.(*sMakeObject)
			f[s.target] = ast.NewTerm(ast.NewObjectWithCapacity(s.capacity))
		case opMakeRecord:
			s := s.(*sMakeRecord)
			t, r := newRecord(s)
			for i, o := range s.vals {
				v := e.read(f, o)
				if v == nil {
					return 0, internalError("object insert of an undefined value")
				}
				r.vals[i] = v
			}
			f[s.target] = t
		case opMakeSet:
			s := s.(*sMakeSet)
			f[s.target] = ast.NewTerm(ast.NewSet())
		case opArrayAppend:
			s := s.(*sArrayAppend)
			arr, v := f[s.array], e.read(f, s.value)
			if arr == nil {
				return 0, internalError("array append to an undefined local")
			}
			a, ok := arr.Value.(*ast.Array)
			if !ok || v == nil {
				return 0, internalError("array append to %v", arr)
			}
			// The Wasm runtime appends in place; the term is the array's
			// identity, so everything holding it sees the new element.
			arr.Value = a.Append(v)
		case opSetAdd:
			s := s.(*sSetAdd)
			set, v := f[s.set], e.read(f, s.value)
			if set == nil {
				return 0, internalError("set add to an undefined local")
			}
			st, ok := set.Value.(ast.Set)
			if !ok || v == nil {
				return 0, internalError("set add to %v", set)
			}
			st.Add(v)
		case opObjectInsert:
			s := s.(*sObjectInsert)
			o, k, v, err := e.insertOperands(f, s.object, s.key, s.value)
			if err != nil {
				return 0, err
			}
			o.Insert(k, v)
		case opObjectInsertOnce:
			s := s.(*sObjectInsertOnce)
			o, k, v, err := e.insertOperands(f, s.object, s.key, s.value)
			if err != nil {
				return 0, err
			}
			if cur := o.Get(k); cur != nil {
				if fastbuiltin.Compare(cur.Value, v.Value) != 0 {
					return 0, conflictError(s.loc, "object keys must be unique")
				}
				continue // equal: the first value stays, as in Wasm
			}
			o.Insert(k, v)
		case opObjectMerge:
			s := s.(*sObjectMerge)
			f[s.target] = merge(materialize(f[s.a]), materialize(f[s.b]))
		case opResultSetAdd:
			s := s.(*sResultSetAdd)
			// A row is a value as a whole: never a Lazy (EvalValue's rows
			// are the query's values themselves).
			e.addRow(materialize(f[s.value]))
		case opCallDynamic:
			s := s.(*sCallDynamic)
			ctl, err := e.callDynamic(f, s)
			if err != nil || ctl != ctlDone {
				return ctl, err
			}
		case opNop:
		default:
			return 0, internalError("statement %T", s)
		}
	}
	return ctlDone, nil
}

// scan runs the body once per element of the source, as the Wasm loop:
// inside the body a break 0 continues with the next element and a break 1
// ends the scan; further breaks leave the block holding the scan.
func (e *evaluator) scan(f []*ast.Term, s *sScan) (int, error) {
	src := materialize(f[s.source])
	if src == nil {
		return ctlDone, nil
	}
	step := func(k, v *ast.Term) (int, bool, error) {
		if e.canceled() {
			return 0, true, cancelError()
		}
		f[s.key], f[s.value] = k, v
		ctl, err := e.exec(f, s.body)
		switch {
		case err != nil:
			return 0, true, err
		case ctl == ctlReturn:
			return ctl, true, nil
		case ctl == 1:
			return ctlDone, true, nil
		case ctl > 1:
			return ctl - 2, true, nil
		}
		return ctlDone, false, nil
	}
	switch v := src.Value.(type) {
	case *ast.Array:
		for i := 0; i < v.Len(); i++ {
			if ctl, stop, err := step(ast.InternedTerm(i), v.Elem(i)); stop {
				return ctl, err
			}
		}
	case ast.Object:
		ki := v.KeysIterator()
		for k, more := ki.Next(); more; k, more = ki.Next() {
			if ctl, stop, err := step(k, v.Get(k)); stop {
				return ctl, err
			}
		}
	case ast.Set:
		for _, k := range v.Slice() {
			if ctl, stop, err := step(k, k); stop {
				return ctl, err
			}
		}
	}
	return ctlDone, nil
}

// maxCallDepth bounds the nesting of planned function calls. Rego has no
// recursion, so plans nest calls only as deep as their rules refer to one
// another; a deeper nesting is a plan that recurses, and would otherwise
// overflow the goroutine's stack, a fatal error no recover catches.
const maxCallDepth = 10000

// call runs a planned function: frame of its own, memoized when its only
// params are input and data.
func (e *evaluator) call(f []*ast.Term, s *sCall) (*ast.Term, error) {
	fn := s.fn
	if fn.memo >= 0 {
		if m := e.memo[fn.memo]; m.set {
			return m.val, nil
		}
	}
	if e.depth >= maxCallDepth {
		return nil, internalError("calls nested more than %d deep", maxCallDepth)
	}
	callee := e.push(fn.nlocals)
	for i, p := range fn.params {
		callee[p] = e.readRaw(f, s.args[i])
	}
	e.depth++
	ctl, err := e.runBlocks(callee, fn.blocks)
	e.depth--
	var v *ast.Term
	switch {
	case err != nil:
	case ctl == ctlReturn:
		// The value of the ReturnLocalStmt that ran, as in Wasm (the
		// planner returns the function's Return local).
		v, e.ret = e.ret, nil
	case fn.ret >= 0:
		v = callee[fn.ret]
	}
	e.pop(callee)
	if err != nil {
		return nil, err
	}
	if fn.memo >= 0 {
		e.memo[fn.memo] = memoEntry{set: true, val: v}
	}
	return v, nil
}

// callBuiltin calls a built-in with topdown's error rule: an error makes the
// call undefined, except a topdown.Halt, which ends the evaluation.
func (e *evaluator) callBuiltin(f []*ast.Term, s *sCallBuiltin) (*ast.Term, error) {
	var args []*ast.Term
	if s.bi.fast != nil {
		// Native built-ins do not keep their arguments (fastbuiltin's
		// contract), so they share one scratch slice.
		args = e.args[:0]
	} else {
		// OPA's built-ins may keep the slice (in arrays they build), as
		// topdown hands each call a slice of its own.
		args = make([]*ast.Term, 0, len(s.args))
	}
	for _, a := range s.args {
		v := e.read(f, a)
		if v == nil {
			// Undefined: the values read so far must not stay in the
			// scratch slice of a pooled evaluator.
			clear(args)
			return nil, nil
		}
		args = append(args, v)
	}
	e.bctx.Location = s.loc
	var out *ast.Term
	var err error
	if s.bi.fast != nil {
		e.args = args
		out, err = s.bi.fast(&e.bctx, args)
		clear(args)
	} else if s.bi.collect {
		e.tdAll = nil
		err = s.bi.td(e.bctx, args, e.tdCollect)
		out = ast.NewTerm(ast.NewArray(e.tdAll...))
		e.tdAll = nil
	} else {
		e.tdOut, e.tdCount = nil, 0
		err = s.bi.td(e.bctx, args, e.tdIter)
		out = e.tdOut
		if err == nil && e.tdCount > 1 {
			err = topdown.Halt{Err: internalError("built-in %s has several outputs", s.bi.name)}
		}
		e.tdOut = nil
	}
	if err != nil {
		if h, ok := err.(topdown.Halt); ok {
			return nil, h.Err
		}
		return nil, nil
	}
	return out, nil
}

// callDynamic resolves the path to a planned function, as the Wasm
// mapping lookup: no function is an undefined statement (break 0); a
// function whose result is undefined breaks out three blocks further.
func (e *evaluator) callDynamic(f []*ast.Term, s *sCallDynamic) (int, error) {
	n := e.prog.dynamic
	for _, p := range s.path {
		v := e.read(f, p)
		if v == nil {
			return 0, nil
		}
		str, ok := v.Value.(ast.String)
		if !ok || n.children == nil {
			return 0, nil
		}
		if n = n.children[string(str)]; n == nil {
			return 0, nil
		}
	}
	if n.fn == nil || len(n.fn.params) != len(s.args) {
		return 0, nil
	}
	if e.canceled() {
		return 0, cancelError()
	}
	call := sCall{fn: n.fn, args: make([]operand, len(s.args))}
	for i, a := range s.args {
		call.args[i] = operand{local: a}
	}
	v, err := e.call(f, &call)
	if err != nil {
		return 0, err
	}
	if v == nil {
		return 3, nil
	}
	f[s.result] = v
	return ctlDone, nil
}

func (e *evaluator) addRow(v *ast.Term) {
	if v == nil {
		return
	}
	// The result set is a set: equal rows count once.
	for _, r := range e.rows {
		if fastbuiltin.Compare(r.Value, v.Value) == 0 {
			return
		}
	}
	e.rows = append(e.rows, v)
}

// conflictError reports a conflict (a complete rule, function or object
// key with two values). It wraps ErrUnsupported as well as the topdown
// error: the plan builds whole documents eagerly where topdown evaluates
// only what a query looks up (one key of a partial object), so a conflict
// the VM sees may be one topdown never meets. Only topdown can tell, and
// conflicts are policy bugs, rare enough to re-evaluate there.
func conflictError(loc *ast.Location, msg string) error {
	return &fallbackError{err: &topdown.Error{Code: topdown.ConflictErr, Message: msg, Location: loc}}
}

// fallbackError is an evaluation error that means "ask topdown": it is
// errors.Is ErrUnsupported.
type fallbackError struct{ err error }

func (f *fallbackError) Error() string   { return f.err.Error() + " (evaluate with topdown)" }
func (f *fallbackError) Unwrap() []error { return []error{f.err, ErrUnsupported} }

// internalError is a plan the VM found it cannot run after all: it asks
// for topdown, as Compile's ErrUnsupported does.
func internalError(format string, args ...any) error {
	return &fallbackError{err: &topdown.Error{Code: topdown.InternalErr, Message: "regovm: " + fmt.Sprintf(format, args...)}}
}

// insertOperands reads an object insert's target object, key and value;
// the plan always defines all three, so anything else is an internal error.
func (e *evaluator) insertOperands(f []*ast.Term, object int, key, value operand) (ast.Object, *ast.Term, *ast.Term, error) {
	obj, k, v := f[object], e.read(f, key), e.read(f, value)
	if obj == nil {
		return nil, nil, nil, internalError("object insert into an undefined local")
	}
	o, ok := obj.Value.(ast.Object)
	if !ok || k == nil || v == nil {
		return nil, nil, nil, internalError("object insert into %v", obj)
	}
	return o, k, v, nil
}
