package regovm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
)

// planTarget is the name of the rego target whose plugin hands the IR plan
// back to Plan. It is only ever selected by Plan itself.
const planTarget = "gatehouse-regovm-plan"

var registerOnce sync.Once

// captureKey keys the per-call capture in the context given to
// PrepareForEval: the plugin is global, so each Plan call carries its own
// destination for the plan and concurrent calls cannot see each other's.
type captureKey struct{}

type capture struct {
	policy *ir.Policy
}

type planPlugin struct{}

func (planPlugin) IsTarget(name string) bool { return name == planTarget }

func (planPlugin) PrepareForEval(ctx context.Context, p *ir.Policy, _ ...rego.PrepareOption) (rego.TargetPluginEval, error) {
	c, ok := ctx.Value(captureKey{}).(*capture)
	if !ok {
		return nil, errors.New("regovm: plan target used outside regovm.Plan")
	}
	c.policy = p
	return planOnlyEval{}, nil
}

// planOnlyEval is what the plugin returns to rego: the prepared query of a
// Plan call is never evaluated.
type planOnlyEval struct{}

func (planOnlyEval) Eval(context.Context, *rego.EvalContext, ast.Value) (ast.Value, error) {
	return nil, errors.New("regovm: the plan target cannot evaluate queries")
}

// Plan returns OPA's IR plan (the one its Wasm compiler consumes) of the
// query and modules given by opts (rego.Query, rego.Module, ...), named
// "eval". It is obtained through OPA's target-plugin hook, so the plan is
// exactly what OPA's planner produces after OPA's own compilation.
//
// Plan installs its own rego.CompilerHook (a caller's is not called) and
// compiles for the IR: opts must not share a rego.Compiler with a topdown
// query. Policies whose modules replace a built-in with `with` are
// rejected with ErrUnsupported.
func Plan(ctx context.Context, opts ...func(*rego.Rego)) (*ir.Policy, error) {
	registerOnce.Do(func() { rego.RegisterPlugin(planTarget, planPlugin{}) })

	c := &capture{}
	ctx = context.WithValue(ctx, captureKey{}, c)
	var comp *ast.Compiler
	all := make([]func(*rego.Rego), 0, len(opts)+2)
	all = append(all, opts...)
	all = append(all,
		rego.CompilerHook(func(cc *ast.Compiler) { comp = cc }), // compiled by PrepareForEval
		rego.Target(planTarget))
	if _, err := rego.New(all...).PrepareForEval(ctx); err != nil {
		return nil, fmt.Errorf("regovm: planning query: %w", err)
	}
	if comp == nil {
		return nil, errors.New("regovm: no compiler to inspect")
	}
	if mocked := mockedBuiltin(comp); mocked != "" {
		// topdown's rule indexer selects rules by some built-in calls
		// (glob.match with a constant pattern) before a `with` replacing
		// that built-in applies; the planned replacement would not
		// reproduce that, so such policies stay with topdown.
		return nil, fmt.Errorf("%w: a with replaces the built-in %s", ErrUnsupported, mocked)
	}
	if c.policy == nil {
		return nil, errors.New("regovm: OPA produced no plan")
	}
	return c.policy, nil
}

// mockedBuiltin returns the name of a built-in some `with` of the compiled
// modules replaces, or "".
func mockedBuiltin(c *ast.Compiler) string {
	var found string
	for _, m := range c.Modules {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			for _, w := range e.With {
				ref, ok := w.Target.Value.(ast.Ref)
				if !ok || ref.HasPrefix(ast.InputRootRef) || ref.HasPrefix(ast.DefaultRootRef) {
					continue
				}
				if found == "" {
					found = ref.String()
				}
			}
			return found != ""
		})
		if found != "" {
			break
		}
	}
	return found
}
