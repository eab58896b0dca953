package registry

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Source is what every external discovery backend (Consul, Kubernetes)
// offers the server, so that readiness, gatehouse_registry_up and the run
// loop treat them alike. Endpoints reach the controller through the
// backend's own callback, keyed by policy Service name.
type Source interface {
	// Name is the source's label in metrics and logs ("consul", "kubernetes").
	Name() string
	// SetPolicy tells the source which Services of snap it serves.
	SetPolicy(snap *policy.Snapshot)
	// Run watches until ctx ends.
	Run(ctx context.Context)
	// Synced reports whether every referenced Service has been read once:
	// until then the first configuration is held back rather than pushed
	// with empty clusters.
	Synced() bool
	// Up reports whether the backend answered its last requests.
	Up() bool
	// Watching is how many distinct queries (Consul) or informers
	// (Kubernetes) are live; 0 means the source is not in use.
	Watching() int
}
