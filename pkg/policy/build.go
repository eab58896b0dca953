package policy

import (
	"fmt"
	"io/fs"
	"sort"
)

// loader assembles a Snapshot from parsed files: local validation, duplicate
// names, reference resolution and carry-over of last good versions.
type loader struct {
	fsys     fs.FS
	prev     *Snapshot
	walkErrs []*objErrs

	snap     *Snapshot
	rejected []Rejected
	// badRef records Kind/name of objects rejected in this load that are
	// not served, so a reference to one says "was rejected".
	badRef map[string]bool
	// present records every Kind/name defined in this load, valid or not.
	present map[string]bool
	// syntaxFiles are files that did not parse; prev objects from them are
	// carried over.
	syntaxFiles map[string]int
}

func (l *loader) build(results []*fileResult) *Snapshot {
	l.snap = &Snapshot{Gateways: map[string]*Gateway{}, Services: map[string]*Service{}, Routes: map[string]*Route{}}
	l.badRef, l.present, l.syntaxFiles = map[string]bool{}, map[string]bool{}, map[string]int{}
	for _, e := range l.walkErrs {
		l.reject(e, false)
	}
	var objs []*object
	for _, f := range results {
		if f.syntax != nil {
			l.syntaxFiles[f.name] = f.syntax.line
			l.reject(f.syntax, false)
			continue
		}
		objs = append(objs, f.objects...)
	}
	for _, o := range objs {
		if o.name != "" {
			l.present[o.errs.ref] = true
		}
		switch v := o.val.(type) {
		case *Gateway:
			validateGateway(l.fsys, o.errs, v)
		case *Service:
			validateService(l.fsys, o.errs, v)
		case *Route:
			validateRoute(o.errs, v)
		}
	}
	markDuplicates(objs)

	// Gateways and Services reference nothing, so they are settled first;
	// Routes are then resolved against exactly what the Snapshot serves.
	var routes []*object
	for _, o := range objs {
		switch v := o.val.(type) {
		case *Gateway:
			if !o.errs.failed() {
				l.snap.Gateways[o.name] = v
			}
		case *Service:
			if !o.errs.failed() {
				l.snap.Services[o.name] = v
			}
		case *Route:
			routes = append(routes, o)
			continue
		}
		if o.errs.failed() {
			l.rejectObject(o)
		}
	}
	l.carrySyntaxFiles(KindGateway)
	l.carrySyntaxFiles(KindService)
	for _, o := range routes {
		r := o.val.(*Route)
		// Resolve even a Route with other errors, so one load reports all.
		l.resolveRoute(o.errs, r)
		if !o.errs.failed() {
			l.snap.Routes[o.name] = r
			continue
		}
		l.rejectObject(o)
	}
	l.carrySyntaxFiles(KindRoute)
	sortRejected(l.rejected)
	l.snap.Rejected = l.rejected
	return l.snap
}

// markDuplicates rejects every object whose Kind/name is defined more than
// once: picking one by file order would make the result depend on it.
func markDuplicates(objs []*object) {
	byRef := map[string][]*object{}
	var order []string
	for _, o := range objs {
		if o.name == "" || o.val == nil {
			continue
		}
		if _, ok := byRef[o.errs.ref]; !ok {
			order = append(order, o.errs.ref)
		}
		byRef[o.errs.ref] = append(byRef[o.errs.ref], o)
	}
	for _, ref := range order {
		dups := byRef[ref]
		if len(dups) < 2 {
			continue
		}
		for _, o := range dups {
			for _, other := range dups {
				if other != o {
					o.errs.add("name", "duplicate %s %q: also defined at %s:%d", o.kind, o.name, other.errs.file, other.errs.line)
				}
			}
		}
	}
}

// reject records an entry; carried says whether a last good version is
// still served.
func (l *loader) reject(o *objErrs, carried bool) {
	l.rejected = append(l.rejected, Rejected{Ref: o.ref, File: o.file, Line: o.line, Errors: o.messages(), CarriedOver: carried})
}

// rejectObject records a failed object and carries over its previous
// version if there is one (and, for a Route, if it still resolves).
func (l *loader) rejectObject(o *object) {
	carried := false
	switch {
	case o.name == "":
	case o.kind == KindGateway && l.snap.Gateways[o.name] != nil,
		o.kind == KindService && l.snap.Services[o.name] != nil,
		o.kind == KindRoute && l.snap.Routes[o.name] != nil:
		// A duplicate whose twin already brought the last good version back.
		carried = true
	case l.prev != nil:
		switch o.kind {
		case KindGateway:
			if g, ok := l.prev.Gateways[o.name]; ok {
				l.snap.Gateways[o.name], carried = g, true
			}
		case KindService:
			if s, ok := l.prev.Services[o.name]; ok {
				l.snap.Services[o.name], carried = s, true
			}
		case KindRoute:
			if r, ok := l.prev.Routes[o.name]; ok {
				if l.resolveRoute(newObjErrs(r.File, r.Line), r) {
					l.snap.Routes[o.name], carried = r, true
				} else {
					o.errs.addAt(o.errs.line, "", "the previous version cannot be kept either: its references no longer resolve")
				}
			}
		}
	}
	if !carried && o.name != "" {
		l.badRef[o.errs.ref] = true
	}
	l.reject(o.errs, carried)
}

// carrySyntaxFiles keeps prev objects of kind defined in files that did not
// parse, unless this load defines the same Kind/name elsewhere.
func (l *loader) carrySyntaxFiles(kind string) {
	if l.prev == nil || len(l.syntaxFiles) == 0 {
		return
	}
	carry := func(m Meta, keep func() bool) {
		synLine, ok := l.syntaxFiles[m.File]
		if !ok || l.present[m.Ref()] {
			return
		}
		o := newObjErrs(m.File, m.Line)
		o.ref = m.Ref()
		if keep() {
			o.addAt(m.Line, "", "not reloaded: %s has a YAML syntax error (line %d); serving the previous version", m.File, synLine)
			l.reject(o, true)
			return
		}
		o.addAt(m.Line, "", "dropped: %s has a YAML syntax error (line %d) and the previous version's references no longer resolve", m.File, synLine)
		l.badRef[m.Ref()] = true
		l.reject(o, false)
	}
	switch kind {
	case KindGateway:
		for _, name := range sortedKeys(l.prev.Gateways) {
			g := l.prev.Gateways[name]
			carry(g.Meta, func() bool { l.snap.Gateways[name] = g; return true })
		}
	case KindService:
		for _, name := range sortedKeys(l.prev.Services) {
			s := l.prev.Services[name]
			carry(s.Meta, func() bool { l.snap.Services[name] = s; return true })
		}
	case KindRoute:
		for _, name := range sortedKeys(l.prev.Routes) {
			r := l.prev.Routes[name]
			carry(r.Meta, func() bool {
				if !l.resolveRoute(newObjErrs(r.File, r.Line), r) {
					return false
				}
				l.snap.Routes[name] = r
				return true
			})
		}
	}
}

// resolveRoute checks a Route's references against the Snapshot being built
// and reports dangling ones on o. It returns whether all resolved.
func (l *loader) resolveRoute(o *objErrs, r *Route) bool {
	before := o.count()
	for i, g := range r.Spec.Gateways {
		if l.snap.Gateways[g] == nil {
			o.add(fmt.Sprintf("spec.gateways[%d]", i), "%s", l.missing(KindGateway, g))
		}
	}
	hashFrom := ""
	var hash *HashOn
	for i, b := range r.Spec.Backends {
		p := fmt.Sprintf("spec.backends[%d].service", i)
		s := l.snap.Services[b.Service]
		if s == nil {
			o.add(p, "%s", l.missing(KindService, b.Service))
			continue
		}
		lb := s.Spec.LoadBalancer
		if lb == nil || lb.HashOn == nil {
			continue
		}
		if hash != nil && *hash != *lb.HashOn {
			o.add(p, "Service %q hashes on %s but Service %q hashes on %s; backends of one Route must agree on hashOn", b.Service, describeHash(lb.HashOn), hashFrom, describeHash(hash))
			continue
		}
		hash, hashFrom = lb.HashOn, b.Service
	}
	return o.count() == before
}

func (l *loader) missing(kind, name string) string {
	if l.badRef[kind+"/"+name] {
		return fmt.Sprintf("%s %q was rejected (see its errors)", kind, name)
	}
	return fmt.Sprintf("%s %q does not exist", kind, name)
}

func describeHash(h *HashOn) string {
	switch {
	case h.Header != "":
		return "header " + h.Header
	case h.Cookie != "":
		return "cookie " + h.Cookie
	default:
		return "sourceIP"
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
