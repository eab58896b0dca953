package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// kindParam is the canonical kind named by the kind= parameter, "" when
// there is none; an unknown kind is an error that lists the kinds.
func kindParam(q url.Values) (string, error) {
	k := q.Get("kind")
	if k == "" {
		return "", nil
	}
	kind, ok := store.CanonicalKind(k)
	if !ok {
		return "", unknownKind(k)
	}
	return kind, nil
}

// listObjects lists the stored objects, filtered by kind, labels
// (label=k=v, repeatable, all must match) and gateway (the objects that
// reach its proxies).
func (cfg *Config) listObjects(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind, err := kindParam(q)
	if err != nil {
		writeError(w, err)
		return
	}
	labels := map[string]string{}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			writeError(w, fail(http.StatusBadRequest, fmt.Sprintf("label=%q: want label=KEY=VALUE", l)))
			return
		}
		labels[k] = v
	}
	t, err := cfg.Store.Read(r.Context())
	if err != nil {
		writeError(w, fmt.Errorf("reading the policy store: %w", err))
		return
	}
	objs, err := store.Objects(t)
	if err != nil {
		writeError(w, err)
		return
	}
	var reach map[store.Ref][]string
	gw := q.Get("gateway")
	if gw != "" {
		reach = gatewaysOf(store.Load(t, cfg.Policy))
	}
	out := api.ObjectList{Revision: t.Revision, Items: []api.Object{}}
	for _, o := range objs {
		if kind != "" && o.Kind != kind {
			continue
		}
		if gw != "" && !slices.Contains(reach[o.Ref], gw) {
			continue
		}
		item, err := apiObject(o)
		if err != nil {
			writeError(w, err)
			return
		}
		if !hasLabels(item.Labels, labels) {
			continue
		}
		out.Items = append(out.Items, item)
	}
	writeJSON(w, http.StatusOK, out)
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func (cfg *Config) getObject(w http.ResponseWriter, r *http.Request) {
	ref, err := pathRef(r)
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := cfg.Store.Read(r.Context())
	if err != nil {
		writeError(w, fmt.Errorf("reading the policy store: %w", err))
		return
	}
	objs, err := store.Objects(t)
	if err != nil {
		writeError(w, err)
		return
	}
	for _, o := range objs {
		if o.Ref == ref {
			item, err := apiObject(o)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, api.ObjectList{Revision: t.Revision, Items: []api.Object{item}})
			return
		}
	}
	writeError(w, fmt.Errorf("%s: %w", ref, store.ErrNotFound))
}

func (cfg *Config) deleteObject(w http.ResponseWriter, r *http.Request) {
	ref, err := pathRef(r)
	if err != nil {
		writeError(w, err)
		return
	}
	wr, err := writeParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := cfg.change(r.Context(), wr, func(t *store.Tree) (plan, error) {
		changes, diffs, err := store.PlanApply(t, nil, []store.Ref{ref})
		return plan{changes: changes, diffs: diffs}, err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// pathRef reads {kind}/{name}, the kind in any case, singular or plural.
func pathRef(r *http.Request) (store.Ref, error) {
	k := r.PathValue("kind")
	kind, ok := store.CanonicalKind(k)
	if !ok {
		return store.Ref{}, unknownKind(k)
	}
	return store.Ref{Kind: kind, Name: r.PathValue("name")}, nil
}

func unknownKind(k string) error {
	return fail(http.StatusBadRequest, fmt.Sprintf("kind %q: not a kind; one of %s (any case, singular or plural)", k, strings.Join(policy.Kinds, ", ")))
}

// apiObject renders a stored object as JSON.
func apiObject(o store.StoredObject) (api.Object, error) {
	var v any
	if err := o.Doc.Decode(&v); err != nil {
		return api.Object{}, fmt.Errorf("%s (%s:%d): %w", o.Ref, o.File, o.Line, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return api.Object{}, fmt.Errorf("%s (%s:%d) cannot be shown as JSON: %w", o.Ref, o.File, o.Line, err)
	}
	item := api.Object{Kind: o.Kind, Name: o.Name, File: o.File, Line: o.Line, Object: b}
	if m, ok := v.(map[string]any); ok {
		if ls, ok := m["labels"].(map[string]any); ok {
			item.Labels = map[string]string{}
			for k, lv := range ls {
				item.Labels[k] = fmt.Sprint(lv)
			}
		}
	}
	return item, nil
}
