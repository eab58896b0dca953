package policy

import (
	"fmt"
	"time"
)

// GRPCTimeout makes a Route honour the grpc-timeout a gRPC client sends:
// the call is bounded by the header's value less Offset, at most Max
// (Envoy's max_stream_duration.grpc_timeout_header_max/offset). Calls
// without the header keep the Route's timeout.
type GRPCTimeout struct {
	Max    Duration `yaml:"max"`    // required, > 0: a client cannot ask for more
	Offset Duration `yaml:"offset"` // subtracted from the header, to leave time for the answer
}

// RetryBackoff spaces retries: Envoy and grpc-go wait a random time up to
// Base, doubling per retry, never more than Max (default 10 x Base).
type RetryBackoff struct {
	Base Duration `yaml:"base"`
	Max  Duration `yaml:"max"`
}

// RetryBudget caps the retries a Service takes at once to Percent of its
// requests in flight, but always allows MinConcurrency (Envoy's
// circuit-breaker retry_budget; defaults 20% and 3). Unlike maxRetries it
// scales with load: a fixed cap either throttles retries under load or is
// so high that a failing backend gets a retry storm.
type RetryBudget struct {
	Percent        *float64 `yaml:"percent"`
	MinConcurrency *int     `yaml:"minConcurrency"`
}

// Envoy's retry_budget defaults (api/envoy/config/cluster/v3/
// circuit_breaker.proto, RetryBudget).
const (
	DefaultRetryBudgetPercent        = 20.0
	DefaultRetryBudgetMinConcurrency = 3
	// envoyDefaultRouteTimeout is Envoy's route timeout when none is set.
	envoyDefaultRouteTimeout = 15 * time.Second
)

// EffectiveTimeout is the bound of one request on r: its timeout, or
// Envoy's default of 15s (0 for streaming Routes without one: none).
func (r *Route) EffectiveTimeout(streaming bool) time.Duration {
	switch {
	case r.Spec.Timeout > 0:
		return r.Spec.Timeout.D()
	case streaming:
		return 0
	}
	return envoyDefaultRouteTimeout
}

// validateTimeouts checks a Route's timeouts and retries against each
// other: settings Envoy would silently ignore are errors here.
func validateTimeouts(o *objErrs, r *Route) {
	sp := &r.Spec
	positiveDuration(o, "spec.idleTimeout", sp.IdleTimeout)
	positiveDuration(o, "spec.streamTimeout", sp.StreamTimeout)
	if r.Answers() {
		// timeout and retries: validateAnswer.
		for _, f := range []string{"idleTimeout", "streamTimeout", "grpcTimeout"} {
			if o.has("spec." + f) {
				o.add("spec."+f, "applies only to a Route with backends; remove it from a redirect or direct response")
			}
		}
		return
	}
	if sp.Timeout > 0 && sp.StreamTimeout > 0 {
		// Envoy: source/common/router/router.cc, FilterUtility::finalTimeout
		// skips the route timeout once max_stream_duration is set
		// (usingNewTimeouts).
		o.add("spec.streamTimeout", "set at most one of timeout, streamTimeout: Envoy ignores timeout once a stream timeout is set")
	}
	if g := sp.GRPCTimeout; g != nil {
		switch {
		case g.Max <= 0:
			o.add("spec.grpcTimeout.max", "required and greater than 0: the longest call a client's grpc-timeout may ask for")
		case g.Offset >= g.Max:
			o.add("spec.grpcTimeout.offset", "%s is not below max %s", g.Offset.D(), g.Max.D())
		}
	}
	if rt := sp.Retries; rt != nil {
		validateRetries(o, r, rt)
	}
}

func validateRetries(o *objErrs, r *Route, rt *Retries) {
	const p = "spec.retries"
	if len(rt.On) == 0 && len(rt.StatusCodes) == 0 {
		o.add(p+".on", "required: list the conditions to retry on (or statusCodes); without one nothing is retried")
	}
	seen := map[int]bool{}
	for i, c := range rt.StatusCodes {
		ip := fmt.Sprintf("%s.statusCodes[%d]", p, i)
		switch {
		case c < 100 || c > 599:
			o.add(ip, "%d is not an HTTP status; 100..599", c)
		case seen[c]:
			o.add(ip, "duplicate status %d", c)
		}
		seen[c] = true
	}
	positiveDuration(o, p+".perTryTimeout", rt.PerTryTimeout)
	positiveDuration(o, p+".perTryIdleTimeout", rt.PerTryIdleTimeout)
	// Envoy drops a per-try timeout that is not below the whole request's
	// (source/common/router/router.cc, FilterUtility::finalTimeout: "If
	// it's >= global we just ignore it").
	whole, what := r.Spec.Timeout.D(), "timeout"
	if r.Spec.StreamTimeout > 0 {
		whole, what = r.Spec.StreamTimeout.D(), "streamTimeout"
	}
	if rt.PerTryTimeout > 0 && whole > 0 && rt.PerTryTimeout.D() >= whole {
		o.add(p+".perTryTimeout", "%s is not below the Route's %s %s: Envoy would ignore it and no attempt would be cut short", rt.PerTryTimeout.D(), what, whole)
	}
	if rt.PerTryTimeout > 0 && rt.PerTryIdleTimeout > 0 && rt.PerTryIdleTimeout >= rt.PerTryTimeout {
		o.add(p+".perTryIdleTimeout", "%s is not below perTryTimeout %s, which would always cut the attempt first", rt.PerTryIdleTimeout.D(), rt.PerTryTimeout.D())
	}
	if b := rt.Backoff; b != nil {
		switch {
		case b.Base <= 0:
			o.add(p+".backoff.base", "required and greater than 0")
		case o.has(p+".backoff.max") && b.Max < b.Base:
			o.add(p+".backoff.max", "%s is below base %s", b.Max.D(), b.Base.D())
		}
	}
	if rt.HedgeOnPerTryTimeout && rt.PerTryTimeout <= 0 {
		// Envoy hedges only when a per-try timeout fires (router.cc,
		// Filter::onPerTryTimeout with hedge_on_per_try_timeout_).
		o.add(p+".hedgeOnPerTryTimeout", "needs perTryTimeout: a hedged attempt starts when an attempt's per-try timeout fires")
	}
	if o.has(p+".hedgeOnPerTryTimeout") && !rt.HedgeOnPerTryTimeout {
		o.add(p+".hedgeOnPerTryTimeout", "only true is allowed; omit it for no hedging")
	}
}

// validateRetryBudget checks a Service's circuitBreaker.retryBudget.
func validateRetryBudget(o *objErrs, cb *CircuitBreaker) {
	const p = "spec.circuitBreaker.retryBudget"
	b := cb.RetryBudget
	if b == nil {
		return
	}
	if o.has("spec.circuitBreaker.maxRetries") {
		// Envoy: source/common/upstream/upstream_impl.cc
		// (ClusterInfoImpl::ResourceManagers::load): with a retry_budget
		// the retry limit is the budget and max_retries is not read.
		o.add(p, "set at most one of maxRetries, retryBudget: Envoy ignores maxRetries when a budget is set")
	}
	if v := b.Percent; v != nil && (*v <= 0 || *v > 100) {
		o.add(p+".percent", "%g is out of range; more than 0 and at most 100 (omit it for %g)", *v, DefaultRetryBudgetPercent)
	}
	if v := b.MinConcurrency; v != nil {
		uint32Field(o, p+".minConcurrency", *v, 0)
	}
}
