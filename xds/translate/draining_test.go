package translate

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// TestEndpointsDraining: a draining endpoint (a terminating Kubernetes
// endpoint that still serves) is published with health status DRAINING, the
// others with none (UNKNOWN, which Envoy and grpc-go treat as healthy).
func TestEndpointsDraining(t *testing.T) {
	cla := Endpoints("svc/s/00000000@x", "", []registry.Endpoint{
		{Address: "10.0.0.1", Port: 80, Weight: 1},
		{Address: "10.0.0.2", Port: 80, Weight: 1, Draining: true},
	})
	if err := cla.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	got := map[string]corev3.HealthStatus{}
	for _, l := range cla.GetEndpoints() {
		for _, e := range l.GetLbEndpoints() {
			got[e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress()] = e.GetHealthStatus()
		}
	}
	if got["10.0.0.1"] != corev3.HealthStatus_UNKNOWN || got["10.0.0.2"] != corev3.HealthStatus_DRAINING {
		t.Errorf("health statuses %v, want 10.0.0.1 UNKNOWN and 10.0.0.2 DRAINING", got)
	}
}
