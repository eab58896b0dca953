// Package api holds the JSON shapes of Gatehouse's admin API under /api/v1,
// shared by the server (pkg/admin) and the Go client (pkg/client).
// docs/openapi.yaml documents them.
package api

import (
	"encoding/json"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// Query parameters and headers of the write calls.
const (
	// ParamDryRun ("true") validates and returns the diff without storing.
	ParamDryRun = "dryRun"
	// ParamBaseRevision refuses the change (409) unless the store is still
	// at this revision.
	ParamBaseRevision = "baseRevision"
	// ParamMessage is recorded in the history.
	ParamMessage = "message"
	// HeaderAuthor is who the client says it is, recorded in the history.
	HeaderAuthor = "X-Gatehouse-Author"
)

// MaxBodyBytes is the largest request body the API reads; larger bodies
// get 413.
const MaxBodyBytes = 4 << 20

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Error string `json:"error"`
	// Rejected lists, for a refused apply, every object (or file) that
	// failed validation, with each error naming file, line, object and
	// field.
	Rejected []policy.Rejected `json:"rejected,omitempty"`
}

// ApplyResult answers an apply, a delete and a rollback.
type ApplyResult struct {
	// Revision is the store's revision after the change (before it, for a
	// dry run).
	Revision string `json:"revision"`
	DryRun   bool   `json:"dryRun,omitempty"`
	// Objects says what happened to every object named.
	Objects []store.ObjectDiff `json:"objects"`
	// Files lists the files of the store the change writes or removes.
	Files []string `json:"files"`
	// Envoy is the change of the Envoy resources per Gateway (a plan),
	// computed by pkg/explain when the server has it; absent otherwise.
	Envoy json.RawMessage `json:"envoy,omitempty"`
}

// Object is one stored object: its document as JSON and where it lives.
type Object struct {
	Kind   string            `json:"kind"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	File   string            `json:"file"`
	Line   int               `json:"line"`
	// Object is the whole document (kind, name, labels, spec).
	Object json.RawMessage `json:"object"`
}

// ObjectList answers a list.
type ObjectList struct {
	Revision string   `json:"revision"`
	Items    []Object `json:"items"`
}

// Condition is one status condition of an object.
type Condition struct {
	Type   string `json:"type"` // Accepted | Programmed
	Status bool   `json:"status"`
	Reason string `json:"reason"`
}

// Condition types.
const (
	Accepted   = "Accepted"
	Programmed = "Programmed"
)

// ObjectStatus is the status of one object.
type ObjectStatus struct {
	Kind       string      `json:"kind"`
	Name       string      `json:"name"`
	Gateways   []string    `json:"gateways,omitempty"` // the Gateways whose proxies it reaches
	Conditions []Condition `json:"conditions"`
}

// StatusList answers the object status call.
type StatusList struct {
	Revision string         `json:"revision"`
	Items    []ObjectStatus `json:"items"`
}

// Revision is one entry of the history.
type Revision struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Author  string    `json:"author,omitempty"`
	Message string    `json:"message,omitempty"`
	Changed []string  `json:"changed"`
}

// History answers the history call, newest first.
type History struct {
	Revisions []Revision `json:"revisions"`
}

// RollbackRequest is the body of a rollback.
type RollbackRequest struct {
	// Revision to restore; the result is a new revision.
	Revision string `json:"revision"`
	// BaseRevision, if set, refuses the rollback (409) unless the store is
	// still at it.
	BaseRevision string `json:"baseRevision,omitempty"`
	DryRun       bool   `json:"dryRun,omitempty"`
	Message      string `json:"message,omitempty"`
}

// ConfigDump is the Envoy configuration one group of clients gets, like
// Envoy's /config_dump: every resource as protojson, private keys redacted.
type ConfigDump struct {
	Gateway string `json:"gateway"`
	Client  string `json:"client"` // envoy | grpc
	// Versions of each resource type, as sent to the proxies.
	Versions map[string]string `json:"versions"`
	// Resources by type (listeners, routes, clusters, endpoints, secrets).
	Resources map[string][]json.RawMessage `json:"resources"`
	// Bridge, when set, is what the group's state-of-the-world Envoys are
	// served until each has ACKed the new routes and listeners: the
	// clusters above plus those the new config dropped, so that routes
	// an Envoy still holds never name a missing cluster.
	Bridge *ConfigDumpBridge `json:"bridge,omitempty"`
}

// ConfigDumpBridge is a group's bridge while it is held.
type ConfigDumpBridge struct {
	// Versions of each resource type in the bridge (only clusters differ).
	Versions map[string]string `json:"versions"`
	// HeldClusters are the clusters the bridge keeps that Resources lacks.
	HeldClusters []string `json:"heldClusters"`
}
