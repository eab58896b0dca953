package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics is valid
// and records nothing (tests that do not care).
type Metrics struct {
	buildSeconds *prometheus.HistogramVec
	buildErrors  prometheus.Counter
	failures     *prometheus.CounterVec
	objects      *prometheus.GaugeVec
	rejected     prometheus.Gauge
}

// NewMetrics registers the controller's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		buildSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_snapshot_build_seconds",
			Help:    "Time from a debounced change to a published snapshot (load, translate, checks, endpoints, publish).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"result"}),
		buildErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_translate_errors_total",
			Help: "Builds that failed translation, checks or endpoints (gatehouse_build_failures_total{stage=\"build\"}); the last good snapshot kept being served.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_build_failures_total",
			Help: "Builds that failed, by stage (build: translate, checks, endpoints; services: the authz and rate-limit rules; publish: the proxies' snapshots). The last good configuration kept being served.",
		}, []string{"stage"}),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_policy_objects",
			Help: "Valid policy objects in the served snapshot, by kind.",
		}, []string{"kind"}),
		rejected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_policy_objects_rejected",
			Help: "Policy objects rejected by the last load (see gatehouse status for reasons).",
		}),
	}
	reg.MustRegister(m.buildSeconds, m.buildErrors, m.failures, m.objects, m.rejected)
	for _, stage := range []string{stageBuild, stageServices, stagePublish} {
		m.failures.WithLabelValues(stage) // exported at 0 before the first failure
	}
	return m
}

func (m *Metrics) observeBuild(d time.Duration, ok bool) {
	if m == nil {
		return
	}
	result := "published"
	if !ok {
		result = "failed"
	}
	m.buildSeconds.WithLabelValues(result).Observe(d.Seconds())
}

func (m *Metrics) failed(stage string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(stage).Inc()
	if stage == stageBuild {
		m.buildErrors.Inc()
	}
}

func (m *Metrics) setObjects(s *policy.Snapshot) {
	if m == nil {
		return
	}
	m.objects.WithLabelValues(policy.KindGateway).Set(float64(len(s.Gateways)))
	m.objects.WithLabelValues(policy.KindService).Set(float64(len(s.Services)))
	m.objects.WithLabelValues(policy.KindRoute).Set(float64(len(s.Routes)))
}

func (m *Metrics) setRejected(n int) {
	if m == nil {
		return
	}
	m.rejected.Set(float64(n))
}
