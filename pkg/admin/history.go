package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// defaultHistory is how many revisions a history call lists unless limit=
// says otherwise.
const defaultHistory = 50

func (cfg *Config) history(w http.ResponseWriter, r *http.Request) {
	limit := defaultHistory
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, fail(http.StatusBadRequest, fmt.Sprintf("limit=%q: want a positive number", v)))
			return
		}
		limit = n
	}
	revs, err := cfg.Store.History(r.Context(), limit)
	if err != nil {
		writeError(w, fmt.Errorf("reading the history: %w", err))
		return
	}
	out := api.History{Revisions: make([]api.Revision, len(revs))}
	for i, rv := range revs {
		out.Revisions[i] = api.Revision{ID: rv.ID, Time: rv.Time, Author: rv.Author, Message: rv.Message, Changed: rv.Changed}
		if out.Revisions[i].Changed == nil {
			out.Revisions[i].Changed = []string{}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// rollback restores the tree of an earlier revision as a new revision. It
// is validated like any apply: a rollback that would break an object that
// loads cleanly now is refused.
func (cfg *Config) rollback(w http.ResponseWriter, r *http.Request) {
	body, err := cfg.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req api.RollbackRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Revision == "" {
		writeError(w, fail(http.StatusBadRequest, `the body must be JSON like {"revision": "ID"}: name the revision to restore (see gatehouse history)`))
		return
	}
	target, err := cfg.Store.ReadAt(r.Context(), req.Revision)
	if err != nil {
		writeError(w, err)
		return
	}
	msg := req.Message
	if msg == "" {
		msg = "rollback to revision " + req.Revision
	}
	wr := writeReq{base: req.BaseRevision, dry: req.DryRun, meta: store.Meta{Author: r.Header.Get(api.HeaderAuthor), Message: msg}}
	res, err := cfg.change(r.Context(), wr, func(t *store.Tree) (plan, error) {
		changes := store.RollbackChanges(t, target)
		diffs, err := treeDiff(t, target)
		return plan{changes: changes, diffs: diffs}, err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// treeDiff says what happens to each object between two trees.
func treeDiff(from, to *store.Tree) ([]store.ObjectDiff, error) {
	before, err := store.Objects(from)
	if err != nil {
		return nil, err
	}
	after, err := store.Objects(to)
	if err != nil {
		return nil, err
	}
	old := map[store.Ref]store.StoredObject{}
	for _, o := range before {
		old[o.Ref] = o
	}
	var out []store.ObjectDiff
	for _, o := range after {
		text := store.Canonical(o.Doc)
		prev, ok := old[o.Ref]
		delete(old, o.Ref)
		if !ok {
			out = append(out, store.ObjectDiff{Ref: o.Ref, Action: store.ActionCreated, File: o.File, After: text})
			continue
		}
		was := store.Canonical(prev.Doc)
		if was != text {
			out = append(out, store.ObjectDiff{Ref: o.Ref, Action: store.ActionConfigured, File: o.File, Before: was, After: text})
		}
	}
	for _, o := range before {
		if _, gone := old[o.Ref]; gone {
			was := store.Canonical(o.Doc)
			out = append(out, store.ObjectDiff{Ref: o.Ref, Action: store.ActionDeleted, File: o.File, Before: was})
		}
	}
	return out, nil
}
