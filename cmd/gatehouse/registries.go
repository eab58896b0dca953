package main

import (
	"fmt"
	"io"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// registryHealth is one discovery source in /api/v1/status, the same for
// every source (the per-source sections add details).
type registryHealth struct {
	Source   string `json:"source"`
	Services int    `json:"in_use"` // Services (static), queries (Consul), informers (Kubernetes), names (DNS)
	Up       bool   `json:"up"`
	Synced   bool   `json:"synced"`
}

// registriesHealth lists the sources in use, in the order given.
func registriesHealth(srcs ...registry.Source) []registryHealth {
	var out []registryHealth
	for _, s := range srcs {
		if n := s.Watching(); n > 0 {
			out = append(out, registryHealth{Source: s.Name(), Services: n, Up: s.Up(), Synced: s.Synced()})
		}
	}
	return out
}

// printRegistries is the one-line-per-source part of `gatehouse status`,
// matching gatehouse_registry_up{source=...}.
func printRegistries(w io.Writer, rs []registryHealth) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(w, "Registries:")
	for _, r := range rs {
		up := "up"
		if !r.Up {
			up = "DOWN (serving the last known endpoints)"
		}
		synced := "synced"
		if !r.Synced {
			synced = "NOT SYNCED"
		}
		fmt.Fprintf(w, "  %s: %s, %s, %d in use\n", r.Source, up, synced, r.Services)
	}
}
