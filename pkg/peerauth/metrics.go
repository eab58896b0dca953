package peerauth

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	handshakes *prometheus.CounterVec // reason
	calls      *prometheus.CounterVec // service, reason
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_peer_handshakes_refused_total",
			Help: "Connections to the gRPC port refused during the TLS handshake, by reason (no_client_cert, expired, not_yet_valid, unknown_ca, wrong_key_usage, invalid_cert, no_gateway_identity, ambiguous_identity, not_tls, handshake_failed).",
		}, []string{"reason"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_peer_calls_refused_total",
			Help: "Calls and xDS streams refused with PermissionDenied because of who the caller is, by service (xds, authz, ratelimit, usage, other) and reason (unauthenticated, node_mismatch, no_node, domain_mismatch).",
		}, []string{"service", "reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.handshakes, m.calls} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register peer authentication metrics: %w", err)
		}
	}
	return m, nil
}
