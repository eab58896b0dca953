package ratelimit

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	// decisionCache holds the decisions counters already looked up, so the
	// request path skips hashing three label values each time. Its keys
	// come from configured domains and limits only, so it stays small.
	decisionCache sync.Map // decisionKey → prometheus.Counter
	decisions     *prometheus.CounterVec
	ignored       *prometheus.CounterVec
	backendErrors prometheus.Counter
	latency       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_ratelimit_decisions_total",
			Help: "Rate-limit decisions per domain and limit (ok, over_limit, shadow_over_limit).",
		}, []string{"domain", "limit", "decision"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_ratelimit_ignored_descriptors_total",
			Help: "Descriptors answered without counting, by reason: OK for all but hits_addend_refused, which is OVER_LIMIT (unknown_domain counts requests).",
		}, []string{"reason"}),
		backendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_ratelimit_backend_errors_total",
			Help: "Rate-limit store calls that failed or timed out.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_ratelimit_backend_duration_seconds",
			Help:    "Latency of rate-limit store calls (one per request, two when a quota is incremented).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.decisions, m.ignored, m.backendErrors, m.latency} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

type decisionKey struct{ domain, limit, decision string }

func (m *metrics) decision(domain, limit, decision string) prometheus.Counter {
	k := decisionKey{domain, limit, decision}
	if c, ok := m.decisionCache.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.decisions.WithLabelValues(domain, limit, decision)
	m.decisionCache.Store(k, c)
	return c
}
