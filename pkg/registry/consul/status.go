package consul

import (
	"sort"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// Status is what `gatehouse status` and /api/v1/status show about Consul.
type Status struct {
	Address string `json:"address"`
	// Reachable is true when every running change detector's last request
	// succeeded (false while nothing is watched: Consul was not asked).
	Reachable   bool            `json:"reachable"`
	LastContact time.Time       `json:"last_contact,omitzero"`
	LastError   string          `json:"last_error,omitempty"`
	LastErrorAt time.Time       `json:"last_error_at,omitzero"`
	Synced      bool            `json:"synced"` // every watch read once
	Services    []ServiceStatus `json:"services"`
}

// ServiceStatus is one policy Service using Consul discovery.
type ServiceStatus struct {
	Name          string   `json:"name"` // the policy Service
	ConsulService string   `json:"consul_service"`
	Tags          []string `json:"tags,omitempty"`
	Datacenter    string   `json:"datacenter,omitempty"`
	Synced        bool     `json:"synced"`
	Instances     int      `json:"instances"` // passing instances, as served
	Skipped       int      `json:"skipped,omitempty"`
	// State: "ok", "no instances yet" (read, none passing or not
	// registered), "not read yet", or "error" (see LastError; the last good
	// endpoints keep being served).
	State     string    `json:"state"`
	LastError string    `json:"last_error,omitempty"`
	LastErrAt time.Time `json:"last_error_at,omitzero"`
	Index     uint64    `json:"index"`
}

// Up reports whether Consul answered the last request of every change
// detector (the gatehouse_registry_up{source="consul"} gauge).
func (s *Source) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	up, _, _ := s.reachLocked()
	return up
}

func (s *Source) reachLocked() (up bool, lastErr string, at time.Time) {
	n := len(s.dcs)
	up = true
	for _, d := range s.dcs {
		for _, l := range d.loops {
			// A detector still backing off after an error does not make
			// Consul unreachable once a later request succeeded.
			if !l.ok && l.at.After(s.lastOK) {
				up = false
				if l.at.After(at) {
					lastErr, at = l.lastErr, l.at
				}
			}
		}
	}
	// Up once anything answered and no detector's last request failed (a
	// detector that has not answered yet does not count against it).
	return up && n > 0 && !s.lastOK.IsZero(), lastErr, at
}

// Status returns a copy of the current state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Address: s.addr, LastContact: s.lastOK, Synced: true, Services: []ServiceStatus{}}
	st.Reachable, st.LastError, st.LastErrorAt = s.reachLocked()
	for name, k := range s.byPolicy {
		w := s.watches[k]
		ss := ServiceStatus{Name: name, ConsulService: k.service, Tags: k.tagList(), Datacenter: k.dc, State: "not read yet"}
		if w != nil {
			ss.Synced, ss.Index, ss.Skipped = w.synced, w.index, w.skipped
			ss.LastError, ss.LastErrAt = w.lastErr, w.lastErrAt
			if w.synced {
				ss.Instances = len(w.endpoints)
				ss.State = "ok"
				if ss.Instances == 0 {
					ss.State = "no instances yet"
				}
			}
			if w.lastErr != "" {
				ss.State = "error"
				if st.LastError == "" {
					st.LastError, st.LastErrorAt = w.lastErr, w.lastErrAt
				}
			}
		}
		if !ss.Synced {
			st.Synced = false
		}
		st.Services = append(st.Services, ss)
	}
	sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].Name < st.Services[j].Name })
	return st
}

// Watching is the number of distinct Consul queries being watched.
func (s *Source) Watching() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watches)
}

// Name is the source's label in gatehouse_registry_up and logs.
func (s *Source) Name() string { return "consul" }

var _ registry.Source = (*Source)(nil)
