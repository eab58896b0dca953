package authz

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/gatehouse-dev/gatehouse/pkg/authz/regovm"
)

// Rego is evaluated from OPA's IR plan by regovm when the plan uses only
// what regovm runs (nearly every policy), and by OPA's topdown otherwise:
// same results either way (regovm's differential tests hold it to
// topdown), but the IR path costs a fraction: no unification machinery,
// native versions of the hot built-ins, and an input read lazily from the
// CheckRequest instead of built.

// The lazy input is what regovm reads.
var (
	_ regovm.Lazy = (*lazyRoot)(nil)
	_ regovm.Lazy = (*lazyMessage)(nil)
	_ regovm.Lazy = (*lazyStringMap)(nil)
)

// Engine names, as status and tests report them.
const (
	EngineIR      = "ir"
	EngineTopdown = "topdown"
)

// compileIR returns the IR program for a policy compiled with opts, or nil
// and the reason when topdown must evaluate it.
//
// The query must be a plain reference into data (the default
// data.envoy.authz.allow, or any data.pkg.rule): a query with variables
// can have several results, which topdown counts per binding and the
// plan's result set counts per distinct value, and "more than one result"
// is a decision here (deny).
func compileIR(ctx context.Context, query string, opts []func(*rego.Rego)) (*regovm.Program, string) {
	if !plainDataRef(query) {
		return nil, "the query is not a plain data reference"
	}
	plan, err := regovm.Plan(ctx, opts...)
	if err != nil {
		return nil, fmt.Sprintf("no IR plan: %v", err)
	}
	prog, err := regovm.Compile(plan)
	if err != nil {
		if errors.Is(err, regovm.ErrUnsupported) {
			return nil, err.Error()
		}
		return nil, fmt.Sprintf("IR plan not compiled: %v", err)
	}
	if !prog.SingleValue() {
		return nil, "the plan's result is not a single value"
	}
	return prog, ""
}

func plainDataRef(query string) bool {
	body, err := ast.ParseBody(query)
	if err != nil || len(body) != 1 {
		return false
	}
	ref, ok := body[0].Terms.(*ast.Term)
	if !ok {
		return false
	}
	r, ok := ref.Value.(ast.Ref)
	if !ok || !r[0].Equal(ast.DefaultRootDocument) {
		return false
	}
	for _, t := range r[1:] {
		if _, ok := t.Value.(ast.String); !ok {
			return false
		}
	}
	return true
}

// evalIR is evalRego on the IR program.
func (s *Service) evalIR(ctx context.Context, st *state, p *compiledPolicy, req *authv3.CheckRequest, d *Decision, id identity) (*policyResult, error) {
	// One allocation for the decision's input and deadline.
	x := scratchPool.Get().(*irScratch)
	defer x.release()
	if err := x.in.init(req, st.maxBody, gatehouseInfo{d.Gateway, d.Route, d.Policy, id}, p.need); err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	now := time.Now() // the deadline's start and time.now_ns: one clock read
	x.dl.ctx, x.dl.at = ctx, now.Add(s.opts.EvalTimeout)
	t, err := p.prog.EvalValue(regovm.EvalOptions{
		Context:                     ctx,
		Input:                       &x.in.term,
		Time:                        now,
		Cancel:                      &x.dl,
		InterQueryBuiltinValueCache: s.cache,
	})
	if err != nil {
		return nil, fmt.Errorf("evaluation error: %w", err)
	}
	if t == nil {
		return nil, noDecision("decision %s is undefined", p.query)
	}
	v := t.Value
	if b, ok := v.(ast.Boolean); ok { // the common case, without the JSON round trip
		return &policyResult{allowed: bool(b)}, nil
	}
	j, err := ast.JSON(v)
	if err != nil {
		return nil, noDecision("decision %s: %v", p.query, err)
	}
	res, err := parseResult(j)
	if err != nil {
		return nil, noDecision("decision %s: %v", p.query, err)
	}
	return res, nil
}

// irScratch is a decision's input root (with its slabs of lazy nodes) and
// deadline, pooled: reused rather than left to the garbage collector, which
// on this path costs more than the evaluation's own work. Nothing refers
// to it once evalIR returns: the result is converted before, the
// evaluator clears its locals and memo, and caches keep only their own
// copies.
type irScratch struct {
	in lazyRoot
	dl deadline
}

var scratchPool = sync.Pool{New: func() any { return new(irScratch) }}

func (x *irScratch) release() {
	*x = irScratch{}
	scratchPool.Put(x)
}

// deadline cancels an evaluation when its time is up or the caller's
// context ends. The evaluator polls Cancelled at every call and loop
// step; reading the clock on one poll in 32 bounds the overrun to a few
// dozen steps, without the timer and context callbacks a topdown
// evaluation sets up (and tears down) per decision.
type deadline struct {
	ctx   context.Context
	at    time.Time
	polls uint32 // only the evaluating goroutine polls
	done  atomic.Bool
}

func (c *deadline) Cancel() { c.done.Store(true) }

func (c *deadline) Cancelled() bool {
	if c.done.Load() {
		return true
	}
	if c.polls++; c.polls%32 != 0 {
		return false
	}
	if c.ctx.Err() != nil || time.Now().After(c.at) {
		c.done.Store(true)
		return true
	}
	return false
}

var _ topdown.Cancel = (*deadline)(nil)

// Engines reports, per configured Rego policy, what evaluates it:
// EngineIR, or EngineTopdown with the reason the IR path cannot.
func (s *Service) Engines() map[string]string {
	out := map[string]string{}
	for name, p := range s.state.Load().policies {
		if p.pq != nil {
			out[name] = p.engine
		}
	}
	return out
}
