package static

import (
	"context"
	"sync"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Source is the static lists as a registry.Source, so that
// gatehouse_registry_up and `gatehouse status` show every source the same
// way. Its endpoints come with the policy (Endpoints): it is always synced
// and up, and Watching counts the Services that use it.
type Source struct {
	mu sync.Mutex
	n  int
}

// Name is the source's label in gatehouse_registry_up.
func (s *Source) Name() string { return "static" }

// SetPolicy counts the Services of snap with static discovery.
func (s *Source) SetPolicy(snap *policy.Snapshot) {
	n := 0
	if snap != nil {
		for _, svc := range snap.Services {
			if svc.Spec.Discovery.Static != nil {
				n++
			}
		}
	}
	s.mu.Lock()
	s.n = n
	s.mu.Unlock()
}

// Run has nothing to watch: it waits for ctx.
func (s *Source) Run(ctx context.Context) { <-ctx.Done() }

// Synced: static endpoints are known with the policy.
func (s *Source) Synced() bool { return true }

// Up: there is no backend to lose.
func (s *Source) Up() bool { return true }

// Watching is the number of Services using static discovery.
func (s *Source) Watching() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
