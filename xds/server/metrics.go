package server

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics are the ADS server's Prometheus metrics.
type serverMetrics struct {
	connected      *prometheus.GaugeVec   // gateway, client
	nacks          *prometheus.CounterVec // type
	pushes         *prometheus.CounterVec // type
	unknownGateway prometheus.Counter
}

func newServerMetrics(reg prometheus.Registerer) (*serverMetrics, error) {
	m := &serverMetrics{
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_xds_connected_proxies",
			Help: "ADS streams open, by the Gateway the node names (node.cluster) and client kind.",
		}, []string{"gateway", "client"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_xds_nacks_total",
			Help: "Responses rejected by a client (requests with error_detail), by resource type.",
		}, []string{"type"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_xds_pushes_total",
			Help: "Discovery responses sent, by resource type.",
		}, []string{"type"}),
		unknownGateway: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_xds_unknown_gateway_total",
			Help: "ADS streams whose node named a Gateway (node.cluster) with no published snapshot.",
		}),
	}
	// Start every type at zero so that rate() works from the first scrape.
	for _, t := range typeNames {
		m.nacks.WithLabelValues(t)
		m.pushes.WithLabelValues(t)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connected, m.nacks, m.pushes, m.unknownGateway} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register xds metrics: %w", err)
		}
	}
	return m, nil
}
