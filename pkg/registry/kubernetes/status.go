package kubernetes

import (
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// Status is what `gatehouse status` and /api/v1/status show about
// Kubernetes discovery.
type Status struct {
	APIServer   string          `json:"api_server,omitempty"`
	Config      string          `json:"config"` // --kubeconfig FILE, KUBECONFIG or in-cluster
	Reachable   bool            `json:"reachable"`
	LastContact time.Time       `json:"last_contact,omitzero"`
	LastError   string          `json:"last_error,omitempty"`
	LastErrorAt time.Time       `json:"last_error_at,omitzero"`
	Synced      bool            `json:"synced"`     // every informer listed once
	Namespaces  []string        `json:"namespaces"` // informers ("*" = cluster-wide)
	Services    []ServiceStatus `json:"services"`
}

// ServiceStatus is one policy Service using Kubernetes discovery.
type ServiceStatus struct {
	Name        string `json:"name"` // the policy Service
	KubeService string `json:"kubernetes_service"`
	Namespace   string `json:"namespace"`
	Port        string `json:"port,omitempty"`
	Synced      bool   `json:"synced"`
	Endpoints   int    `json:"endpoints"` // served (ready + draining)
	Draining    int    `json:"draining,omitempty"`
	NotReady    int    `json:"not_ready,omitempty"`
	Skipped     int    `json:"skipped,omitempty"` // unusable addresses
	Slices      int    `json:"slices"`
	// State: "ok", "not synced yet", "no EndpointSlices (Service or
	// namespace not found?)", "no ready endpoints", or "port P not in the
	// EndpointSlices (ports: ...)".
	State string `json:"state"`
}

// Status returns a copy of the current state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{
		APIServer: s.host, Config: s.origin, Reachable: s.upLocked(), LastContact: s.lastOK,
		LastError: s.lastErr, LastErrorAt: s.lastErrAt, Synced: true,
		Namespaces: []string{}, Services: []ServiceStatus{},
	}
	if st.Config == "" {
		st.Config = "not loaded yet"
	}
	for ns, inf := range s.informers {
		label := ns
		if ns == "" {
			label = "*"
		}
		if !inf.informer.HasSynced() {
			st.Synced = false
		}
		st.Namespaces = append(st.Namespaces, label)
	}
	if len(s.byPolicy) > 0 && len(s.informers) == 0 {
		st.Synced = false
	}
	sort.Strings(st.Namespaces)
	for name, t := range s.byPolicy {
		ss := ServiceStatus{Name: name, KubeService: t.service, Namespace: t.namespace, Port: t.port, State: "not synced yet"}
		ns := t.namespace
		if s.cfg.AllNamespaces {
			ns = ""
		}
		c, counted := s.counts[name]
		if inf := s.informers[ns]; inf != nil && inf.informer.HasSynced() && counted {
			ss.Synced = true
			ss.Endpoints = len(s.emitted[name])
			ss.Draining, ss.NotReady, ss.Skipped, ss.Slices = c.Draining, c.NotReady, c.BadAddress, c.Slices
			switch {
			case c.Slices == 0:
				ss.State = "no EndpointSlices (Service or namespace not found?)"
			case c.NoPort == c.Slices && c.MultiPortNo:
				ss.State = "several ports: name one with port (ports: " + strings.Join(c.PortsSeen, ", ") + ")"
			case c.NoPort == c.Slices:
				ss.State = "port " + t.port + " not in the EndpointSlices (ports: " + orNone(strings.Join(c.PortsSeen, ", ")) + ")"
			case ss.Endpoints == 0:
				ss.State = "no ready endpoints"
			default:
				ss.State = "ok"
			}
		}
		st.Services = append(st.Services, ss)
	}
	sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].Name < st.Services[j].Name })
	return st
}

func orNone(s string) string {
	if s == "" {
		return "none named"
	}
	return s
}

var _ registry.Source = (*Source)(nil)
