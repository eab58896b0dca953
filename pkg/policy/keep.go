package policy

import (
	"fmt"
	"slices"
	"strings"
)

// A policy edit must never publish a protected path as public. Two rules
// (docs/security/state.md):
//
//  1. An object this load no longer defines (deleted or renamed) but that an
//     object being served still references keeps its last good version,
//     reported as "deleted or renamed, but still referenced by ...". Without
//     it a Route naming a deleted Authorization would be dropped and its
//     paths would fall through to a catch-all Route.
//  2. A Route that is defined but cannot be served (a reference does not
//     resolve, or it is invalid) and has no last good version (a fresh
//     start, or a new Route) holds back every Gateway it names
//     (Snapshot.Held): its paths must not be served by another Route of
//     that Gateway.

// keptRef is an object kept at its last good version by rule 1.
type keptRef struct {
	meta *Meta
	by   []string // referrers: `Route/r (spec.authorization)`
}

// keepReferenced serves prev's version of kind/name if this load does not
// define it at all and its own references resolve (keeping what they name,
// too). Objects defined in this load but rejected are handled by
// rejectObject and carryUnusable instead.
func (l *loader) keepReferenced(kind, name string) bool {
	ref := kind + "/" + name
	if l.present[ref] || l.badRef[ref] {
		return false
	}
	p := l.prev.get(kind, name)
	if p == nil {
		return false
	}
	m := metaOf(p)
	o := newObjErrs(m.File, m.Line)
	o.ref = ref
	if !l.resolve(o, p, true) {
		// Say why, or the referrer's "was rejected" points at nothing.
		l.badRef[ref] = true
		o.addAt(m.Line, "", "deleted or renamed while still referenced, and its last good version cannot be kept")
		l.reject(o, false)
		return false
	}
	l.accept(p)
	l.kept[ref] = &keptRef{meta: m}
	return true
}

// noteReferrer records that referrer (at path) names a kept object.
func (l *loader) noteReferrer(ref, referrer, path string) {
	k := l.kept[ref]
	if k == nil {
		return
	}
	by := referrer + " (" + path + ")"
	if !slices.Contains(k.by, by) {
		k.by = append(k.by, by)
	}
}

// reportKept lists every kept object in Rejected, as carried over.
func (l *loader) reportKept() {
	for ref, k := range l.kept {
		o := newObjErrs(k.meta.File, k.meta.Line)
		o.ref = ref
		slices.Sort(k.by)
		o.addAt(k.meta.Line, "", "deleted or renamed, but still referenced by %s: its last good version is still served; remove the reference first",
			strings.Join(k.by, ", "))
		l.reject(o, true)
	}
}

// holdGateways applies rule 2 to a Route that is defined but not served.
func (l *loader) holdGateways(r *Route, o *objErrs) {
	why := "it is rejected (see its errors)"
	// The new version and the previous one may report the same reference.
	var reasons []string
	for _, d := range l.dangling[o.ref] {
		if !slices.Contains(reasons, d) {
			reasons = append(reasons, d)
		}
	}
	if len(reasons) > 0 {
		why = strings.Join(reasons, "; ")
	}
	msg := fmt.Sprintf("%s (%s:%d) cannot be served (%s) and has no last good version; another Route could serve its paths",
		o.ref, o.file, o.line, why)
	for _, g := range r.Spec.Gateways {
		if l.snap.Gateways[g] == nil {
			continue
		}
		if l.snap.Held == nil {
			l.snap.Held = map[string][]string{}
		}
		if !slices.Contains(l.snap.Held[g], msg) {
			l.snap.Held[g] = append(l.snap.Held[g], msg)
		}
	}
}
