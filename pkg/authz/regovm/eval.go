package regovm

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
	"github.com/open-policy-agent/opa/v1/topdown/cache"

	"github.com/gatehouse-dev/gatehouse/pkg/authz/regovm/fastbuiltin"
)

// EvalOptions are the per-evaluation inputs of Program.Eval.
type EvalOptions struct {
	Context context.Context
	// Input is the input document; nil means undefined.
	Input *ast.Term
	// Time is what time.now_ns returns; zero means time.Now().
	Time time.Time
	// Cancel may be nil.
	Cancel topdown.Cancel
	// InterQueryBuiltinValueCache may be nil.
	InterQueryBuiltinValueCache cache.InterQueryValueCache
}

// Control results of executing a block, mirroring the Wasm compiler's
// block structure: a non-negative value n is a break out of the current
// block and n more enclosing ones (an undefined statement is a break 0).
const (
	ctlDone   = -1 // ran to its end
	ctlReturn = -2 // a ReturnLocalStmt ran; the value is in evaluator.ret
)

// noMetrics satisfies built-ins that count cache hits when an inter-query
// cache is configured.
var noMetrics = metrics.NoOp()

var evaluators = sync.Pool{New: func() any { return newEvaluator() }}

// memoEntry is the memoized result of a function of input and data.
type memoEntry struct {
	set bool
	val *ast.Term
}

// evaluator is the per-evaluation state, pooled between evaluations.
type evaluator struct {
	prog    *Program
	bctx    topdown.BuiltinContext
	stack   []*ast.Term // frames of locals
	sp      int
	memo    []memoEntry
	paths   []pathEntry // the path cache (pathcache.go)
	args    []*ast.Term // scratch for built-in arguments
	rows    []*ast.Term
	rowsErr error // of EvalValue, about the rows
	ret     *ast.Term
	depth   int // of planned function calls
	cancel  topdown.Cancel
	// ctxCancel is cancel when the caller gives a Context but no Cancel.
	ctxCancel ctxCancel

	// The output of the topdown built-in being called, and the iterator
	// handed to it, bound once so calls do not allocate a closure.
	tdOut   *ast.Term
	tdCount int
	tdIter  func(*ast.Term) error
	// For built-ins whose outputs are collected (walk).
	tdAll     []*ast.Term
	tdCollect func(*ast.Term) error
}

func newEvaluator() *evaluator {
	e := &evaluator{
		stack: make([]*ast.Term, 256),
		args:  make([]*ast.Term, 0, 8),
	}
	e.tdIter = e.onOutput
	e.tdCollect = e.onOutputCollect
	e.bctx.Cache = builtins.Cache{}
	return e
}

func (e *evaluator) onOutput(t *ast.Term) error {
	if e.tdCount == 0 {
		e.tdOut = t
	}
	e.tdCount++
	return nil
}

func (e *evaluator) onOutputCollect(t *ast.Term) error {
	e.tdAll = append(e.tdAll, t)
	return nil
}

// Eval runs the plan "eval" and returns the rows of its result set, each
// the value its ResultSetAddStmt adds (an object of the query's variables).
// It is safe for concurrent use.
//
// The rows are distinct, as in OPA's Wasm result set, where topdown yields
// one per solution: for a query with several solutions binding equal values
// (x := input[_] over [1, 1]) topdown has more rows. A query of a single
// value (a data reference, see EvalValue) has at most one row in both.
//
// An error that errors.Is ErrUnsupported (a conflict, which topdown may not
// meet, see conflictError, or an internal failure) means the caller must
// evaluate with topdown to get topdown's answer; any other error is
// topdown's error too (a halt, a cancellation). The returned terms share
// structure with the Program's constants: callers must not modify them.
func (p *Program) Eval(opts EvalOptions) ([]*ast.Term, error) {
	var rows []*ast.Term
	err := p.run(p.eval, opts, func(e *evaluator) {
		if len(e.rows) > 0 {
			rows = make([]*ast.Term, len(e.rows))
			copy(rows, e.rows)
		}
	})
	return rows, err
}

// EvalValue is Eval for the plan of a query of one variable (a plain data
// reference such as data.envoy.authz.allow): it returns the variable's
// value, without the row object around it, or nil when the query is
// undefined. Errors are Eval's; a plan of another shape gives an error
// wrapping ErrUnsupported (see SingleValue).
func (p *Program) EvalValue(opts EvalOptions) (*ast.Term, error) {
	if p.evalValue == nil {
		return nil, fmt.Errorf("%w: the query's rows are not single values", ErrUnsupported)
	}
	var v *ast.Term
	err := p.run(p.evalValue, opts, func(e *evaluator) {
		switch len(e.rows) {
		case 0:
		case 1:
			v = e.rows[0]
		default:
			v = nil
			e.rowsErr = fmt.Errorf("regovm: the query has %d results", len(e.rows))
		}
	})
	return v, err
}

// SingleValue tells whether EvalValue can run: the plan's rows are
// objects of one variable.
func (p *Program) SingleValue() bool { return p.evalValue != nil }

// run evaluates plan fn and hands the evaluator to done before it goes
// back to the pool.
func (p *Program) run(fn *function, opts EvalOptions, done func(*evaluator)) (err error) {
	e := evaluators.Get().(*evaluator)
	defer func() {
		if r := recover(); r != nil {
			// A bug of the VM or a panicking built-in: the evaluator's
			// state is unknown, so it is dropped, and topdown decides.
			err = internalError("panic: %v", r)
			return
		}
		e.release()
	}()
	e.prog = p
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	e.cancel = opts.Cancel
	if e.cancel == nil && ctx.Done() != nil {
		// As topdown, which cancels when the context ends: without a
		// Cancel, a plan scanning a huge collection would run on.
		e.ctxCancel.ctx = ctx
		e.cancel = &e.ctxCancel
	}
	e.bctx.Context = ctx
	e.bctx.Cancel = e.cancel
	e.bctx.InterQueryBuiltinValueCache = opts.InterQueryBuiltinValueCache
	e.bctx.Metrics = noMetrics
	e.bctx.Seed = rand.Reader
	if p.needTime {
		now := opts.Time
		if now.IsZero() {
			now = time.Now()
		}
		e.bctx.Time = fastbuiltin.IntTerm(now.UnixNano())
	}
	if cap(e.memo) < p.nmemo {
		e.memo = make([]memoEntry, p.nmemo)
	}
	e.memo = e.memo[:p.nmemo]
	if cap(e.paths) < p.npaths {
		e.paths = make([]pathEntry, p.npaths)
	}
	e.paths = e.paths[:p.npaths]

	frame := e.push(fn.nlocals)
	frame[fn.params[0]] = opts.Input
	frame[fn.params[1]] = p.data
	_, err = e.runBlocks(frame, fn.blocks)
	e.pop(frame)
	if err != nil {
		return err
	}
	done(e)
	return e.rowsErr
}

// release clears everything that refers to the evaluation's values and
// returns the evaluator to the pool.
func (e *evaluator) release() {
	clear(e.memo)
	clear(e.paths)
	clear(e.rows)
	e.rows = e.rows[:0]
	clear(e.bctx.Cache)
	e.bctx.Context = nil
	e.bctx.Cancel = nil
	e.bctx.InterQueryBuiltinValueCache = nil
	e.bctx.Time = nil
	e.bctx.Location = nil
	e.prog, e.cancel, e.ret, e.tdOut, e.rowsErr = nil, nil, nil, nil, nil
	e.ctxCancel.ctx = nil
	e.sp, e.depth = 0, 0
	evaluators.Put(e)
}

// push returns a zeroed frame of n locals. Frames of callers keep the
// backing array they were cut from when the stack has to grow, so growth
// needs no copy.
func (e *evaluator) push(n int) []*ast.Term {
	if e.sp+n > len(e.stack) {
		// The slots below sp in the new array stay unused: the frames they
		// stand for live in the old one.
		e.stack = make([]*ast.Term, 2*(e.sp+n))
	}
	f := e.stack[e.sp : e.sp+n : e.sp+n]
	e.sp += n
	return f
}

func (e *evaluator) pop(f []*ast.Term) {
	clear(f)
	e.sp -= len(f)
}

// runBlocks runs a plan's or a function's blocks in order: each is a Wasm
// block of its own, so a break 0 (or undefined) moves on to the next one
// and anything further leaves the function.
func (e *evaluator) runBlocks(f []*ast.Term, blocks []*block) (int, error) {
	for _, b := range blocks {
		ctl, err := e.exec(f, b)
		if err != nil {
			return 0, err
		}
		if ctl == ctlReturn || ctl > 0 {
			return ctl, nil
		}
	}
	return ctlDone, nil
}

// ctxCancel is a topdown.Cancel that is cancelled when its context ends.
type ctxCancel struct{ ctx context.Context }

func (c *ctxCancel) Cancel()         {}
func (c *ctxCancel) Cancelled() bool { return c.ctx.Err() != nil }

func (e *evaluator) canceled() bool {
	return e.cancel != nil && e.cancel.Cancelled()
}

func cancelError() error {
	return &topdown.Error{Code: topdown.CancelErr, Message: "caller cancelled query execution"}
}

func (e *evaluator) read(f []*ast.Term, o operand) *ast.Term {
	if o.c != nil {
		return o.c
	}
	return materialize(f[o.local])
}
