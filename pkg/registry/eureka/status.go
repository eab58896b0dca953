package eureka

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// Status is what `gatehouse status` and /api/v1/status show about Eureka
// discovery.
type Status struct {
	Servers     []string        `json:"servers"`
	Server      string          `json:"server"` // the one that answered last (or is tried first)
	Auth        bool            `json:"basic_auth"`
	Reachable   bool            `json:"reachable"`
	LastContact time.Time       `json:"last_contact,omitzero"`
	LastError   string          `json:"last_error,omitempty"`
	LastErrorAt time.Time       `json:"last_error_at,omitzero"`
	Synced      bool            `json:"synced"` // the registry was read once
	HashCode    string          `json:"apps_hashcode,omitempty"`
	Instances   int             `json:"instances"` // in the whole mirrored registry
	Fetches     Stats           `json:"fetches"`
	Services    []ServiceStatus `json:"services"`
}

// ServiceStatus is one policy Service using Eureka discovery.
type ServiceStatus struct {
	Name      string         `json:"name"` // the policy Service
	App       string         `json:"app"`
	VIP       string         `json:"vip,omitempty"`
	Port      string         `json:"port"` // "port" or "securePort"
	Instances int            `json:"instances"`
	Endpoints int            `json:"endpoints"`
	NotUp     map[string]int `json:"not_up,omitempty"`
	OtherVIP  int            `json:"other_vip,omitempty"`
	NoPort    int            `json:"no_port,omitempty"`
	Skipped   int            `json:"skipped,omitempty"`
	// State: "ok", "not synced yet", "application not registered",
	// "no instance UP", "no instance with the VIP", "no instance with
	// the port enabled".
	State string `json:"state"`
}

// Status returns a copy of the current state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{
		Servers: append([]string(nil), s.cfg.Servers...), Server: s.cfg.Servers[s.server],
		Auth: s.cfg.Username != "", Reachable: s.up, LastContact: s.lastOK,
		LastError: s.lastErr, LastErrorAt: s.errAt, Synced: s.haveFull, HashCode: s.hash,
		Instances: s.mirror.instances(), Fetches: s.stats, Services: []ServiceStatus{},
	}
	for name, t := range s.byPolicy {
		ss := ServiceStatus{Name: name, App: t.app, VIP: t.vip, Port: "port", State: "not synced yet"}
		if t.secure {
			ss.Port = "securePort"
		}
		c, counted := s.counts[name]
		if s.haveFull && counted {
			ss.Instances, ss.Endpoints = c.Instances, len(s.emitted[name])
			ss.OtherVIP, ss.NoPort, ss.Skipped = c.OtherVIP, c.NoPort, c.Skipped
			if len(c.NotUp) > 0 {
				ss.NotUp = c.NotUp
			}
			ss.State = stateOf(ss, c)
		}
		st.Services = append(st.Services, ss)
	}
	sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].Name < st.Services[j].Name })
	return st
}

func stateOf(ss ServiceStatus, c counts) string {
	switch {
	case ss.Endpoints > 0:
		return "ok"
	case c.Instances == 0:
		return "application not registered"
	case c.OtherVIP == c.Instances:
		return fmt.Sprintf("no instance with the VIP %s", ss.VIP)
	case ss.NoPort > 0 && sumNotUp(c) == 0:
		return fmt.Sprintf("no instance with the %s enabled", ss.Port)
	case sumNotUp(c) > 0:
		return "no instance UP (" + notUpList(c.NotUp) + ")"
	default:
		return "no usable instance"
	}
}

func sumNotUp(c counts) int {
	n := 0
	for _, v := range c.NotUp {
		n += v
	}
	return n
}

func notUpList(m map[string]int) string {
	var parts []string
	for st, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", st, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

var _ registry.Source = (*Source)(nil)
