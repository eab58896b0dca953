// Package store defines where policy lives: a tree of files (the policy
// YAML and the files it names: Rego, certificates, JWKS) with a revision,
// optimistic concurrency and a history. Implementations live in
// sub-packages (dir: a directory, the default; consul: Consul KV, for
// several replicas). Stores know files, not objects: which file an object
// goes to, and what a rollback changes, is decided once for every store by
// the object layer of this package.
package store

import (
	"context"
	"errors"
	"time"
)

// Tree is the whole policy at one revision.
type Tree struct {
	// Revision identifies the content; two reads of the same content give
	// the same revision.
	Revision string
	// Files maps slash-separated paths relative to the store's root to
	// their content. It is never modified once returned.
	Files map[string][]byte
}

// Change is one file written or removed by a commit.
type Change struct {
	Path string
	// Content is the new content; nil removes the file.
	Content []byte
}

// Meta says who made a commit and why; it is recorded in the history.
type Meta struct {
	Author  string
	Message string
}

// Revision is one entry of a store's history.
type Revision struct {
	ID      string
	Time    time.Time
	Author  string
	Message string
	// Changed lists the paths the revision wrote or removed.
	Changed []string
}

// Store is one place where policy lives.
type Store interface {
	// Read returns the current tree.
	Read(ctx context.Context) (*Tree, error)
	// Commit applies changes atomically if the current revision is base
	// (ErrConflict otherwise; base "" skips the check) and returns the new
	// revision. Changes that leave the content as it is commit nothing and
	// return the current revision.
	Commit(ctx context.Context, base string, changes []Change, meta Meta) (Revision, error)
	// Watch calls notify whenever the tree may have changed, until ctx
	// ends; ready (if not nil) is called once changes are being watched.
	Watch(ctx context.Context, notify, ready func()) error
	// History lists up to limit revisions, newest first.
	History(ctx context.Context, limit int) ([]Revision, error)
	// ReadAt returns the tree as it was at a revision of the history
	// (ErrUnknownRevision if the store does not have it).
	ReadAt(ctx context.Context, revision string) (*Tree, error)
}

var (
	// ErrConflict: the commit was based on a revision that is no longer
	// current.
	ErrConflict = errors.New("the policy changed since the revision this change is based on")
	// ErrUnknownRevision: the revision is not in the store's history.
	ErrUnknownRevision = errors.New("no such revision")
	// ErrUnavailable: the store cannot be reached; callers keep serving
	// what they last read.
	ErrUnavailable = errors.New("policy store unavailable")
)
