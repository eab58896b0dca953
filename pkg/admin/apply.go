package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// apply stores many objects at once: all of them or none.
func (cfg *Config) apply(w http.ResponseWriter, r *http.Request) {
	body, err := cfg.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	objs, err := store.ParseObjects(body)
	if err != nil {
		writeError(w, fail(http.StatusBadRequest, fmt.Sprintf("the body is not a list of policy objects (YAML documents or a JSON array): %v", err)))
		return
	}
	if len(objs) == 0 {
		writeError(w, fail(http.StatusBadRequest, "the body holds no objects: send YAML documents or a JSON array of objects, each with kind, name and spec"))
		return
	}
	wr, err := writeParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := cfg.change(r.Context(), wr, func(t *store.Tree) (plan, error) {
		changes, diffs, err := store.PlanApply(t, objs, nil)
		touched := make([]store.Ref, len(objs))
		for i, o := range objs {
			touched[i] = o.Ref
		}
		return plan{changes, diffs, touched}, err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// readBody reads a request body of at most cfg.MaxBody bytes (413 above).
func (cfg *Config) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cfg.MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes: apply fewer objects at a time", cfg.MaxBody))
	}
	if err != nil {
		return nil, fail(http.StatusBadRequest, "reading the body: "+err.Error())
	}
	return body, nil
}

// writeReq is what every write call takes besides its objects.
type writeReq struct {
	base string
	dry  bool
	meta store.Meta
}

func writeParams(r *http.Request) (writeReq, error) {
	q := r.URL.Query()
	wr := writeReq{base: q.Get(api.ParamBaseRevision), meta: store.Meta{Author: r.Header.Get(api.HeaderAuthor), Message: q.Get(api.ParamMessage)}}
	if v := q.Get(api.ParamDryRun); v != "" {
		dry, err := strconv.ParseBool(v)
		if err != nil {
			return wr, fail(http.StatusBadRequest, fmt.Sprintf("%s=%q: want true or false", api.ParamDryRun, v))
		}
		wr.dry = dry
	}
	return wr, nil
}

// plan is what a write would do to a tree.
type plan struct {
	changes []store.Change
	diffs   []store.ObjectDiff
	touched []store.Ref // objects the write names: any rejection of theirs refuses it
}

// commitAttempts bounds the retries of a write without a base revision that
// lost a race with another write: it is planned again on the new tree.
const commitAttempts = 5

// change is the one path of every write: read the tree, plan the write on
// it, validate the resulting policy as a whole, and commit it based on the
// tree read, so nothing is stored that was not validated.
func (cfg *Config) change(ctx context.Context, wr writeReq, planFor func(*store.Tree) (plan, error)) (api.ApplyResult, error) {
	for attempt := 1; ; attempt++ {
		t, err := cfg.Store.Read(ctx)
		if err != nil {
			return api.ApplyResult{}, fmt.Errorf("reading the policy store: %w", err)
		}
		if wr.base != "" && wr.base != t.Revision {
			return api.ApplyResult{}, fmt.Errorf("based on revision %s, the store is at %s: %w", wr.base, t.Revision, store.ErrConflict)
		}
		p, err := planFor(t)
		if err != nil {
			return api.ApplyResult{}, err
		}
		after := store.Apply(t, p.changes)
		if rej := store.Validate(t, after, p.touched, cfg.Policy); len(rej) > 0 {
			return api.ApplyResult{}, &httpError{
				code:     http.StatusUnprocessableEntity,
				msg:      fmt.Sprintf("refused: %d object(s) would be rejected; nothing was stored. Fix the fields named below and apply again", len(rej)),
				rejected: rej,
			}
		}
		res := api.ApplyResult{Revision: t.Revision, DryRun: wr.dry, Objects: p.diffs, Files: []string{}}
		if res.Objects == nil {
			res.Objects = []store.ObjectDiff{}
		}
		for _, c := range p.changes {
			res.Files = append(res.Files, c.Path)
		}
		if wr.dry {
			if cfg.EnvoyDiff != nil {
				if res.Envoy, err = cfg.EnvoyDiff(t, after); err != nil {
					return api.ApplyResult{}, fmt.Errorf("computing the Envoy resource change: %w", err)
				}
			}
			return res, nil
		}
		rev, err := cfg.Store.Commit(ctx, t.Revision, p.changes, wr.meta)
		if errors.Is(err, store.ErrConflict) && wr.base == "" && attempt < commitAttempts {
			continue
		}
		if err != nil {
			return api.ApplyResult{}, fmt.Errorf("storing the change: %w", err)
		}
		res.Revision = rev.ID
		return res, nil
	}
}
