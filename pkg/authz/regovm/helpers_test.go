package regovm

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// outcome is one evaluation's observable result, comparable between
// topdown and the VM: the JSON of each row's value, or the error.
type outcome struct {
	rows []string
	err  error
}

func (o outcome) String() string {
	if o.err != nil {
		return "error: " + o.err.Error()
	}
	if len(o.rows) == 0 {
		return "undefined"
	}
	return fmt.Sprint(o.rows)
}

func (o outcome) same(p outcome) bool {
	if (o.err != nil) != (p.err != nil) {
		return false
	}
	if o.err != nil {
		return true
	}
	return fmt.Sprint(o.rows) == fmt.Sprint(p.rows)
}

// pair is one query over modules prepared for both evaluators.
type pair struct {
	td  rego.PreparedEvalQuery
	vm  *Program
	now time.Time
	// fallbacks counts the cases the VM handed back to topdown.
	fallbacks int
}

type module struct{ name, src string }

func preparePair(t testing.TB, query string, mods ...module) (*pair, error) {
	t.Helper()
	ctx := context.Background()
	opts := []func(*rego.Rego){rego.Query(query)}
	for _, m := range mods {
		opts = append(opts, rego.Module(m.name, m.src))
	}
	td, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		t.Fatalf("topdown prepare %s: %v", query, err)
	}
	pl, err := Plan(ctx, opts...)
	if isUnsupported(err) {
		return nil, err
	}
	if err != nil {
		t.Fatalf("plan %s: %v", query, err)
	}
	vm, err := Compile(pl)
	if err != nil {
		return nil, err
	}
	return &pair{td: td, vm: vm, now: time.Now()}, nil
}

func (p *pair) topdown(input *ast.Term) outcome {
	// The results stay AST values (not JSON), so sets, non-string keys and
	// number representations are compared exactly.
	asTerm := func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }
	opts := []rego.EvalOption{rego.EvalTime(p.now), rego.EvalGenerateJSON(asTerm)}
	if input != nil {
		opts = append(opts, rego.EvalParsedInput(input.Value))
	}
	rs, err := p.td.Eval(context.Background(), opts...)
	if err != nil {
		return outcome{err: err}
	}
	var o outcome
	for _, r := range rs {
		if len(r.Expressions) != 1 {
			return outcome{err: fmt.Errorf("topdown: %d expressions", len(r.Expressions))}
		}
		t, ok := r.Expressions[0].Value.(*ast.Term)
		if !ok {
			return outcome{err: fmt.Errorf("topdown: result %T", r.Expressions[0].Value)}
		}
		o.rows = append(o.rows, t.String())
	}
	return o
}

func (p *pair) vmEval(input *ast.Term) outcome {
	// A VM that loops fails the case instead of hanging the test.
	cancel := topdown.NewCancel()
	timer := time.AfterFunc(10*time.Second, cancel.Cancel)
	defer timer.Stop()
	opts := EvalOptions{Context: context.Background(), Input: input, Time: p.now, Cancel: cancel}
	rows, err := p.vm.Eval(opts)
	if p.vm.SingleValue() {
		// EvalValue must agree with Eval's one row.
		v, verr := p.vm.EvalValue(opts)
		var want *ast.Term
		if len(rows) == 1 {
			rows[0].Value.(ast.Object).Foreach(func(_, val *ast.Term) { want = val })
		}
		switch {
		case (err == nil) != (verr == nil):
			return outcome{err: fmt.Errorf("Eval error %v, EvalValue error %v", err, verr)}
		case err == nil && len(rows) > 1:
			return outcome{err: fmt.Errorf("Eval: %d rows of one variable", len(rows))}
		case err == nil && (v == nil) != (want == nil):
			return outcome{err: fmt.Errorf("Eval %v, EvalValue %v", rows, v)}
		case err == nil && v != nil && v.String() != want.String():
			return outcome{err: fmt.Errorf("Eval %v, EvalValue %v", want, v)}
		}
	}
	if err != nil {
		return outcome{err: err}
	}
	var o outcome
	for _, r := range rows {
		obj, ok := r.Value.(ast.Object)
		if !ok || obj.Len() != 1 {
			return outcome{err: fmt.Errorf("vm: row %v is not an object of one variable", r)}
		}
		var v *ast.Term
		obj.Foreach(func(_, val *ast.Term) { v = val })
		o.rows = append(o.rows, v.String())
	}
	return o
}

// compare evaluates input with both and reports a difference; the VM runs
// on the plain input and on a Lazy one.
func (p *pair) compare(input *ast.Term) error {
	if err := p.compareVM(input, input); err != nil {
		return err
	}
	var n int
	if err := p.compareVM(input, lazyTerm(input, &n)); err != nil {
		return fmt.Errorf("lazy input: %w", err)
	}
	return nil
}

func (p *pair) compareVM(input, vmInput *ast.Term) error {
	want, got := p.topdown(input), p.vmEval(vmInput)
	if isUnsupported(got.err) {
		// The caller falls back to topdown: check that a fallback is
		// only ever asked for around a conflict.
		var te *topdown.Error
		if !errors.As(got.err, &te) || te.Code != topdown.ConflictErr {
			return fmt.Errorf("vm asked for a fallback with %v", got.err)
		}
		if input == vmInput {
			p.fallbacks++
		}
		return nil
	}
	if !want.same(got) {
		return fmt.Errorf("topdown %v, vm %v", want, got)
	}
	return nil
}

func isUnsupported(err error) bool { return errors.Is(err, ErrUnsupported) }
