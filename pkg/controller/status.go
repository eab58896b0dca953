package controller

import (
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Status is what the controller reports to the admin API and `gatehouse status`.
type Status struct {
	// Ready is true once a complete build was published.
	Ready             bool              `json:"ready"`
	LastBuild         time.Time         `json:"last_build"`
	LastBuildDuration time.Duration     `json:"last_build_duration_ns"`
	LastError         string            `json:"last_error,omitempty"` // why the newest input is not being served
	LastErrorAt       time.Time         `json:"last_error_at,omitempty"`
	Gateways          []string          `json:"gateways"`
	Rejected          []policy.Rejected `json:"rejected"`
	// Held lists Gateways whose configuration was not rebuilt, and why
	// (policy.Snapshot.Held): they keep serving their last good
	// configuration, or none if they never had one.
	Held map[string][]string `json:"held,omitempty"`
	// WaitingFor says why the first snapshot is held back (Config.Synced).
	WaitingFor string `json:"waiting_for,omitempty"`
	// Proxyless says which protected Routes the served policy withholds
	// from proxyless gRPC clients or serves them unprotected, and why
	// (policy.Snapshot.ProxylessNotes).
	Proxyless []string `json:"proxyless,omitempty"`
}

// Status returns a copy of the current status.
func (c *Controller) Status() Status {
	c.statusMu.RLock()
	defer c.statusMu.RUnlock()
	s := c.status
	s.Rejected = append([]policy.Rejected(nil), s.Rejected...)
	s.Gateways = append([]string(nil), s.Gateways...)
	s.Proxyless = append([]string(nil), s.Proxyless...)
	if s.Held != nil {
		held := make(map[string][]string, len(s.Held))
		for k, v := range s.Held {
			held[k] = append([]string(nil), v...)
		}
		s.Held = held
	}
	return s
}

// Ready reports whether a complete build has been published.
func (c *Controller) Ready() bool {
	c.statusMu.RLock()
	defer c.statusMu.RUnlock()
	return c.status.Ready
}
