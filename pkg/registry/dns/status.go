package dns

import (
	"sort"
	"time"
)

// Status is what `gatehouse status` and /api/v1/status show about DNS
// discovery.
type Status struct {
	Servers     []string        `json:"servers"` // empty until a Service uses DNS
	Reachable   bool            `json:"reachable"`
	LastContact time.Time       `json:"last_contact,omitzero"`
	LastError   string          `json:"last_error,omitempty"`
	LastErrorAt time.Time       `json:"last_error_at,omitzero"`
	Synced      bool            `json:"synced"` // every name answered once
	Services    []ServiceStatus `json:"services"`
}

// ServiceStatus is one policy Service using DNS discovery.
type ServiceStatus struct {
	Name      string    `json:"name"` // the policy Service
	Host      string    `json:"host"`
	Port      int       `json:"port"`
	Type      string    `json:"type"`
	Family    string    `json:"lookup_family"`
	Synced    bool      `json:"synced"`
	Endpoints int       `json:"endpoints"`
	TTL       string    `json:"ttl,omitempty"` // of the last answer
	Next      time.Time `json:"next_resolve,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// State: "ok", "not resolved yet", "no addresses", or "failing
	// (serving the last known addresses)".
	State string `json:"state"`
}

// Status returns a copy of the current state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Reachable: s.upLocked(), LastContact: s.lastOK, LastError: s.lastErr, LastErrorAt: s.lastErrAt, Synced: true, Services: []ServiceStatus{}}
	if s.res != nil {
		st.Servers = append(st.Servers, s.res.servers...)
	}
	for name, t := range s.targets {
		ss := ServiceStatus{Name: name, Host: t.d.Name, Port: t.d.Port, Type: t.d.TypeOrDefault(), Family: t.d.FamilyOrDefault(),
			Synced: t.resolved, Endpoints: len(t.eps), Next: t.next, LastError: t.lastErr}
		if t.ttl > 0 {
			ss.TTL = t.ttl.String()
		}
		switch {
		case t.failures > 0 && t.resolved:
			ss.State = "failing (serving the last known addresses)"
		case !t.resolved:
			ss.State = "not resolved yet"
			st.Synced = false
		case len(t.eps) == 0:
			ss.State = "no addresses"
		default:
			ss.State = "ok"
		}
		st.Services = append(st.Services, ss)
	}
	sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].Name < st.Services[j].Name })
	return st
}
