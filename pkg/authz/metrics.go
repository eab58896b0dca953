package authz

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// decisionMetrics are the decision counters and latency an operator watches: how
// many requests each Authorization allows and denies, which engine decided
// (topdown where the IR engine cannot), and how long decisions take.
type decisionMetrics struct {
	// decisionCache holds the counters already looked up, so a decision
	// skips hashing three label values. Its keys come from configured
	// policy names only (unknown names share one label), so it stays small.
	decisionCache sync.Map // decisionKey -> prometheus.Counter
	decisions     *prometheus.CounterVec
	latency       prometheus.Histogram
}

// unknownPolicy labels decisions for an Authorization the configuration
// does not have: the name comes from the route's context extensions, and
// a stale or misconfigured proxy must not grow the label set.
const unknownPolicy = "(unknown)"

func newDecisionMetrics(reg prometheus.Registerer) (*decisionMetrics, error) {
	m := &decisionMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authz_decisions_total",
			Help: "ext_authz decisions per Authorization (\"\" for routes with authentication only), decision (allow, deny) and engine (ir, topdown, none when no Rego ran).",
		}, []string{"authorization", "decision", "engine"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_authz_decision_duration_seconds",
			Help:    "Time to decide one Check, from request to response, without gRPC.",
			Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2.5e-2, .1},
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.decisions, m.latency} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

type decisionKey struct{ policy, decision, engine string }

func (m *decisionMetrics) record(st *state, d *Decision) {
	policy := d.Policy
	if _, ok := st.policies[policy]; !ok && policy != "" {
		policy = unknownPolicy
	}
	decision := "deny"
	if d.Allowed {
		decision = "allow"
	}
	engine := d.Engine
	if engine == "" {
		engine = "none"
	}
	k := decisionKey{policy, decision, engine}
	c, ok := m.decisionCache.Load(k)
	if !ok {
		c, _ = m.decisionCache.LoadOrStore(k, m.decisions.WithLabelValues(policy, decision, engine))
	}
	c.(prometheus.Counter).Inc()
	m.latency.Observe(d.Duration.Seconds())
}
