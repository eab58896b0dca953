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
	// Initial-sync admission (admission.go).
	syncWaiting     prometheus.Gauge
	syncWaitExpired prometheus.Counter
	syncHoldExpired prometheus.Counter
	// The bridge hold (sotwhold.go).
	bridgesHeld       prometheus.Gauge
	bridgeHoldExpired prometheus.Counter
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
		syncWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_xds_initial_syncs_waiting",
			Help: "ADS streams waiting for a slot to send their initial responses.",
		}),
		syncWaitExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_xds_initial_sync_wait_expired_total",
			Help: "ADS streams that waited the whole initial-sync wait bound and went ahead without a slot.",
		}),
		syncHoldExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_xds_initial_sync_hold_expired_total",
			Help: "Initial-sync slots taken back because the client did not answer its initial responses within the hold bound.",
		}),
		bridgesHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_xds_bridges_held",
			Help: "Envoy groups served a bridge snapshot (clusters a publish dropped still in CDS) until their state-of-the-world streams ACK the new routes and listeners.",
		}),
		bridgeHoldExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_xds_bridge_hold_expired_total",
			Help: "Bridge holds ended by their bound while a state-of-the-world stream had not answered the new routes or listeners (its cluster removal may come before them).",
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
	for _, c := range []prometheus.Collector{m.connected, m.nacks, m.pushes, m.unknownGateway, m.syncWaiting, m.syncWaitExpired, m.syncHoldExpired, m.bridgesHeld, m.bridgeHoldExpired} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register xds metrics: %w", err)
		}
	}
	return m, nil
}
