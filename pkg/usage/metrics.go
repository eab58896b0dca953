package usage

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// malformedReasons are the reason labels of gatehouse_usage_malformed_total.
var malformedReasons = []string{"undecodable", "no_identifier", "no_gateway", "no_entries",
	"no_common_properties", "bad_label", "bad_response_code", "bad_duration"}

type metrics struct {
	requests  *prometheus.CounterVec   // gateway, route, service, code_class
	latency   *prometheus.HistogramVec // gateway, route, service
	consumers *prometheus.CounterVec   // gateway, consumer, plan, code_class
	quota     *prometheus.GaugeVec     // gateway, consumer, plan
	entries   *prometheus.CounterVec   // result
	malformed *prometheus.CounterVec   // reason
	overflow  *prometheus.CounterVec   // dimension
	streams   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_usage_requests_total",
			Help: "HTTP requests Envoy logged over the access-log service, per gateway, route, service and response class (1xx..5xx, none).",
		}, []string{"gateway", "route", "service", "code_class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_usage_request_duration_seconds",
			Help:    "Request duration Envoy logged (first byte received to last byte sent), per gateway, route and service.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"gateway", "route", "service"}),
		consumers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_usage_consumer_requests_total",
			Help: "HTTP requests per gateway, consumer, the consumer's plan and response class (consumers beyond the limit count as _other).",
		}, []string{"gateway", "consumer", "plan", "code_class"}),
		quota: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_usage_quota_used_ratio",
			Help: "Share (0..1) of the closest rate limit or quota a consumer had used at its last logged request, from the x-ratelimit headers when the access log carries them.",
		}, []string{"gateway", "consumer", "plan"}),
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_usage_entries_total",
			Help: "Access-log entries received, by result (counted, malformed, tcp_ignored).",
		}, []string{"result"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_usage_malformed_total",
			Help: "Malformed access-log messages and entries, by reason; the stream is answered with InvalidArgument.",
		}, []string{"reason"}),
		overflow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_usage_overflow_total",
			Help: "Entries counted under _other because a cardinality limit was reached, by dimension (gateway, route, consumer, store).",
		}, []string{"dimension"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_usage_streams",
			Help: "Open access-log streams (Envoy opens one per worker thread and log config).",
		}),
	}
	// Every label value known in advance exists from the start at 0, so
	// that increase() and rate() see the first malformed entry or overflow
	// (a series that appears at 1 has no increase).
	for _, r := range []string{"counted", "malformed", "tcp_ignored"} {
		m.entries.WithLabelValues(r)
	}
	for _, r := range malformedReasons {
		m.malformed.WithLabelValues(r)
	}
	for _, d := range []string{"gateway", "route", "consumer", "store"} {
		m.overflow.WithLabelValues(d)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.consumers, m.quota, m.entries, m.malformed, m.overflow, m.streams} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}
