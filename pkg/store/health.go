package store

import (
	"io/fs"
	"sync"
	"testing/fstest"
	"time"
)

// FS is the tree as a read-only file system, for policy.Load.
func (t *Tree) FS() fs.FS {
	m := make(fstest.MapFS, len(t.Files))
	for p, c := range t.Files {
		m[p] = &fstest.MapFile{Data: c, Mode: 0o444}
	}
	return m
}

// Health follows the reads of a store for status pages and metrics: a
// store that stopped answering is visible there while the last good
// policy keeps being served.
type Health struct {
	mu sync.Mutex
	st HealthStatus
}

// HealthStatus is the store part of /api/v1/status.
type HealthStatus struct {
	Store string `json:"store"` // where policy is read from (no secrets)
	// Up is whether the last read returned a tree.
	Up bool `json:"up"`
	// Revision is the revision of the last tree read.
	Revision    string    `json:"revision,omitempty"`
	LastRead    time.Time `json:"last_read,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitempty"`
}

// NewHealth follows the store described by name.
func NewHealth(name string) *Health { return &Health{st: HealthStatus{Store: name}} }

// Observe records the outcome of a read.
func (h *Health) Observe(t *Tree, err error, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.st.Up = false
		h.st.LastError, h.st.LastErrorAt = err.Error(), now
		return
	}
	h.st.Up, h.st.Revision, h.st.LastRead = true, t.Revision, now
	h.st.LastError, h.st.LastErrorAt = "", time.Time{}
}

// Status returns the current state.
func (h *Health) Status() HealthStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}
