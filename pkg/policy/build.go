package policy

import (
	"fmt"
	"strings"
)

// loader assembles a Snapshot from parsed files: local validation, duplicate
// names, reference resolution and carry-over of last good versions.
type loader struct {
	files    *fileReader
	prev     *Snapshot
	walkErrs []walkError

	snap     *Snapshot
	rejected []Rejected
	// badRef records Kind/name of objects rejected in this load that are
	// not served, so a reference to one says "was rejected".
	badRef map[string]bool
	// present records every Kind/name defined in this load, valid or not.
	present map[string]bool
	// unusable are the files that gave no objects (syntax error, cannot be
	// read) and why; prev objects from them, and from directories the walk
	// could not read, are carried over (carryUnusable).
	unusable map[string]string // file -> why
	// creds are the credentials of the Consumers served so far.
	creds servedCredentials
	// kept are objects this load does not define that are served at their
	// last good version because served objects reference them (keep.go).
	kept map[string]*keptRef
	// dangling lists, by referrer Kind/name, its references that did not
	// resolve ("spec.authorization: Authorization \"z\" does not exist").
	dangling map[string][]string
	// schemas are the OpenAPI documents' operations and the transcoding
	// descriptor sets' bindings, loaded once per load
	// (transformation_schema.go).
	schemas *schemaCache
}

// resolveOrder settles kinds so that every kind comes after the kinds it
// references: a reference is checked against exactly what the Snapshot
// serves (including carried-over versions).
var resolveOrder = []string{
	KindService, KindAuthentication, KindAuthorization, KindPlan, KindRateLimit, KindFirewall, KindTransformation, // reference nothing
	KindConsumer, // Plan
	KindGateway,  // Authentication, RateLimit, Firewall
	KindRoute,    // Gateway, Service, Authentication, Authorization, RateLimit, Firewall, Transformation
}

func (l *loader) build(results []*fileResult) *Snapshot {
	l.snap = newSnapshot()
	l.badRef, l.present, l.unusable = map[string]bool{}, map[string]bool{}, map[string]string{}
	l.kept, l.dangling = map[string]*keptRef{}, map[string][]string{}
	for _, e := range l.walkErrs {
		l.reject(e.errs, false)
	}
	var objs []*object
	for _, f := range results {
		if f.syntax != nil {
			l.unusable[f.name] = f.unusable
			l.reject(f.syntax, false)
			continue
		}
		objs = append(objs, f.objects...)
	}
	byKind := map[string][]*object{}
	for _, o := range objs {
		if o.name != "" {
			l.present[o.errs.ref] = true
		}
		l.validate(o)
		if o.val != nil {
			byKind[o.kind] = append(byKind[o.kind], o)
		} else {
			l.reject(o.errs, false)
		}
	}
	markDuplicates(objs)
	markCredentialConflicts(objs)
	markClaimHeaderConflicts(objs)

	for _, kind := range resolveOrder {
		// Resolve even objects with other errors, so one load reports all.
		for _, o := range byKind[kind] {
			l.resolve(o.errs, o.val, false)
		}
		if kind == KindRoute {
			l.loginPathClashes(byKind[kind])
		}
		// Accept first, then carry over: a carried-over version must not
		// clash with what this load defines (Consumer credentials).
		for _, o := range byKind[kind] {
			if !o.errs.failed() {
				l.accept(o.val)
			}
		}
		for _, o := range byKind[kind] {
			if o.errs.failed() {
				l.rejectObject(o)
			}
		}
		l.carryUnusable(kind)
	}
	for _, o := range byKind[KindRoute] {
		if r := o.val.(*Route); o.name != "" && l.snap.Routes[r.Name] == nil {
			l.holdGateways(r, o.errs)
		}
	}
	l.reportKept()
	sortRejected(l.rejected)
	l.snap.Rejected = l.rejected
	return l.snap
}

func (l *loader) validate(o *object) {
	switch v := o.val.(type) {
	case *Gateway:
		validateGateway(l.files, o.errs, v)
	case *Service:
		validateService(l.files, o.errs, v)
	case *Route:
		validateRoute(l.files, o.errs, v)
	case *Authentication:
		validateAuthentication(l.files, o.errs, v)
	case *Authorization:
		validateAuthorization(l.files, o.errs, v)
	case *Consumer:
		validateConsumer(o.errs, v)
	case *Plan:
		validatePlan(o.errs, v)
	case *RateLimit:
		validateRateLimit(o.errs, v)
	case *Firewall:
		validateFirewall(o.errs, v)
	case *Transformation:
		validateTransformation(o.errs, v)
	}
}

func (l *loader) accept(v any) {
	l.snap.put(v)
	if c, ok := v.(*Consumer); ok {
		l.creds.add(c)
	}
}

// resolve checks v's references against the Snapshot being built and
// reports dangling ones on o; carried says v is a previous version about to
// be carried over, which must also not clash with what is served. It
// returns whether everything resolved.
func (l *loader) resolve(o *objErrs, v any, carried bool) bool {
	before := o.count()
	switch x := v.(type) {
	case *Route:
		l.resolveRoute(o, x)
	case *Gateway:
		if al := x.Spec.AccessLog; al != nil && al.OpenTelemetry != nil {
			l.grpcServiceRef(o, "spec.accessLog.openTelemetry.service", al.OpenTelemetry.Service)
		}
		if tr := x.Spec.Tracing; tr != nil {
			switch tr.Provider {
			case TracingOpenTelemetry:
				l.grpcServiceRef(o, "spec.tracing.service", tr.Service)
			case TracingZipkin:
				l.httpServiceRef(o, "spec.tracing.service", tr.Service)
			}
		}
		if d := x.Spec.Defaults; d != nil {
			if d.Authentication != nil {
				for i, a := range *d.Authentication {
					l.ref(o, fmt.Sprintf("spec.defaults.authentication[%d]", i), KindAuthentication, a)
				}
			}
			if d.RateLimit != RateLimitNone {
				l.ref(o, "spec.defaults.rateLimit", KindRateLimit, d.RateLimit)
			}
			if d.Firewall != FirewallNone {
				l.ref(o, "spec.defaults.firewall", KindFirewall, d.Firewall)
			}
			l.ref(o, "spec.defaults.transformation", KindTransformation, d.Transformation)
		}
	case *Authentication:
		if carried {
			servedAuthHeaderConflicts(o, x, l.snap.Authentications)
		}
	case *Consumer:
		l.ref(o, "spec.plan", KindPlan, x.Spec.Plan)
		if carried {
			l.creds.conflicts(o, x)
		}
	}
	return o.count() == before
}

// ref reports on o a reference to kind/name that the Snapshot does not
// serve, after trying to keep its last good version (keep.go); "" references
// nothing.
func (l *loader) ref(o *objErrs, p, kind, name string) {
	if name == "" {
		return
	}
	if l.snap.get(kind, name) != nil || l.keepReferenced(kind, name) {
		l.noteReferrer(kind+"/"+name, o.ref, p)
		return
	}
	msg := l.missing(kind, name)
	l.dangling[o.ref] = append(l.dangling[o.ref], p+": "+msg)
	o.add(p, "%s", msg)
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
// version if there is one and its references still resolve.
func (l *loader) rejectObject(o *object) {
	carried := false
	switch {
	case o.name == "":
	case l.snap.get(o.kind, o.name) != nil:
		// A duplicate whose twin already brought the last good version back.
		carried = true
	default:
		if p := l.prev.get(o.kind, o.name); p != nil {
			m := metaOf(p)
			po := newObjErrs(m.File, m.Line)
			po.ref = o.errs.ref
			if l.resolve(po, p, true) {
				l.accept(p)
				carried = true
			} else {
				o.errs.addAt(o.errs.line, "", "the previous version cannot be kept either: %s", strings.Join(po.messages(), "; "))
			}
		}
	}
	if !carried && o.name != "" {
		l.badRef[o.errs.ref] = true
	}
	l.reject(o.errs, carried)
}

// carryUnusable keeps prev objects of kind defined in files that gave no
// objects (a syntax error, unreadable) or that lie under a directory the
// walk could not read, unless this load defines the same Kind/name
// elsewhere: a file that cannot be read is not a deleted file, and a Route
// dropped for it could let a catch-all serve its paths.
func (l *loader) carryUnusable(kind string) {
	if len(l.unusable) == 0 && len(l.walkErrs) == 0 {
		return
	}
	for _, v := range l.prev.all(kind) {
		m := metaOf(v)
		why, ok := l.whyUnusable(m.File)
		if !ok || l.present[m.Ref()] {
			continue
		}
		o := newObjErrs(m.File, m.Line)
		o.ref = m.Ref()
		po := newObjErrs(m.File, m.Line)
		po.ref = o.ref
		if l.resolve(po, v, true) {
			l.accept(v)
			o.addAt(m.Line, "", "not reloaded: %s %s; serving the previous version", m.File, why)
			l.reject(o, true)
			continue
		}
		o.addAt(m.Line, "", "dropped: %s %s and the previous version's references no longer resolve", m.File, why)
		l.badRef[m.Ref()] = true
		l.reject(o, false)
	}
}

// whyUnusable says why file gave no objects in this load, if it did not.
func (l *loader) whyUnusable(file string) (string, bool) {
	if why, ok := l.unusable[file]; ok {
		return why, true
	}
	for _, e := range l.walkErrs {
		if e.path == "." || strings.HasPrefix(file, e.path+"/") || file == e.path {
			return fmt.Sprintf("(under %s, which cannot be read)", e.path), true
		}
	}
	return "", false
}

// resolveRoute checks a Route's references against the Snapshot being built
// and reports dangling ones on o.
func (l *loader) resolveRoute(o *objErrs, r *Route) {
	for i, g := range r.Spec.Gateways {
		l.ref(o, fmt.Sprintf("spec.gateways[%d]", i), KindGateway, g)
	}
	if r.Spec.Authentication != nil {
		for i, a := range *r.Spec.Authentication {
			l.ref(o, fmt.Sprintf("spec.authentication[%d]", i), KindAuthentication, a)
		}
	}
	l.ref(o, "spec.authorization", KindAuthorization, r.Spec.Authorization)
	if r.Spec.RateLimit != RateLimitNone {
		l.ref(o, "spec.rateLimit", KindRateLimit, r.Spec.RateLimit)
	}
	if r.Spec.Firewall != FirewallNone {
		l.ref(o, "spec.firewall", KindFirewall, r.Spec.Firewall)
	}
	if r.Spec.Transformation != TransformationNone {
		l.ref(o, "spec.transformation", KindTransformation, r.Spec.Transformation)
	}
	resolveRouteTransformation(o, r, l.snap.Gateways, l.snap.Transformations, l.snap.Services)
	if l.schemas == nil {
		l.schemas = newSchemaCache()
	}
	resolveTransformationSchema(o, r, l.snap.Gateways, l.snap.Transformations, l.snap.Services, l.schemas)
	resolveTranscoding(o, r, l.snap.Services)
	resolveValidation(o, r, l.snap.Services)
	validateProtectedAnswer(o, r, l.snap.Gateways)
	validateTunnelGateways(o, r, l.snap.Gateways, l.snap.Services)
	resolveUpgrades(o, r, l.snap.Gateways, l.snap.Services)
	bodyTransformUpgrades(o, r, l.snap.Gateways, l.snap.Transformations)
	inspectedUpgrades(r, l.snap.Gateways, l.snap.Services)
	resolveRequire(o, r, l.snap.Gateways, l.snap.Authentications)
	resolveCache(o, r, l.snap.Gateways, l.snap.Transformations)
	resolveLogin(o, r, l.snap.Gateways, l.snap.Authentications)
	resolveCDN(o, r, l.snap.Gateways)
	sharedCacheHeaders(o, r, l.snap.Gateways, l.snap.Transformations)
	for i, m := range r.Spec.Mirror {
		l.ref(o, fmt.Sprintf("spec.mirror[%d].service", i), KindService, m.Service)
	}
	hashFrom := ""
	var hash *HashOn
	for i, b := range r.Spec.Backends {
		p := fmt.Sprintf("spec.backends[%d].service", i)
		l.ref(o, p, KindService, b.Service)
		s := l.snap.Services[b.Service]
		if s == nil {
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

// grpcServiceRef resolves a reference to a collector's Service, which
// Envoy reaches over gRPC: the Service must have protocol GRPC, or its
// cluster would speak HTTP/1.1 and every export would fail.
func (l *loader) grpcServiceRef(o *objErrs, p, name string) {
	l.ref(o, p, KindService, name)
	if s := l.snap.Services[name]; s != nil && s.Spec.Protocol != ServiceGRPC {
		proto := s.Spec.Protocol
		if proto == "" {
			proto = ServiceHTTP
		}
		o.add(p, "Service %q has protocol %s; a collector is reached over gRPC, so it needs protocol GRPC", name, proto)
	}
}

// httpServiceRef resolves a reference to a collector Envoy posts to over
// HTTP/1.1 (Zipkin's JSON API): a gRPC or HTTP2 Service would not answer.
func (l *loader) httpServiceRef(o *objErrs, p, name string) {
	l.ref(o, p, KindService, name)
	if s := l.snap.Services[name]; s != nil && s.Spec.Protocol != "" && s.Spec.Protocol != ServiceHTTP {
		o.add(p, "Service %q has protocol %s; a Zipkin collector is reached over HTTP, so it needs protocol HTTP", name, s.Spec.Protocol)
	}
}
