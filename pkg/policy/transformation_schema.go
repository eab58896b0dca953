package policy

import (
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/openapi"
	"github.com/gatehouse-dev/gatehouse/pkg/transform"
)

// Issue 15, bad input: "paths that cannot exist in the schema given". A
// Route that validates against an OpenAPI document (its own validation:
// or its Services') gives the Transformation that applies to it a schema,
// and a body operation naming a field no body of the Route's operations
// can have is a mistake (a typo, the wrong document): refused at load
// time, on the Route, naming the op and the document.
//
// Which side the document describes follows the filter order
// (xds/translate checkopenapi.go, checktransform.go): on the way in,
// request validation runs before the transformation, so the request
// schemas describe the body the request ops read; on the way back the
// chain runs backwards, the transformation before response validation,
// so the response schemas describe the body the response ops produce.
// Hence: request ops' source paths (remove, rename, move, wrap, unwrap)
// must be able to exist in some matched operation's request body, and
// response ops' created paths (set, rename's and move's to, wrap's in)
// in some matched operation's response body. Everything the document
// leaves open is allowed (openapi.CanExist): no JSON schema, no
// additionalProperties: false, a composition one of whose branches
// allows it, a Route path given by regex (every operation may match). An
// operation without a requestBody gets no request body at all (the
// validator refuses one), so it allows no request path.

// docOperations loads a validation document's operations once per load
// (documents are shared by many Routes).
type docOperations map[string][]openapi.Operation

func (d docOperations) get(doc []byte) []openapi.Operation {
	if ops, ok := d[string(doc)]; ok {
		return ops
	}
	ops, err := openapi.Operations(doc)
	if err != nil {
		ops = nil // reported on the object carrying the document
	}
	d[string(doc)] = ops
	return ops
}

// schemaCache holds what a load parses once for many Routes: OpenAPI
// documents' operations and transcoding descriptor sets' bindings.
type schemaCache struct {
	docs docOperations
	sets protoBindings
}

func newSchemaCache() *schemaCache {
	return &schemaCache{docs: docOperations{}, sets: protoBindings{}}
}

// resolveTransformationSchema checks the Transformation applying to r on
// each of its Gateways against the document r validates against and the
// proto messages r transcodes to (transformation_proto.go).
func resolveTransformationSchema(o *objErrs, r *Route, gateways map[string]*Gateway, xs map[string]*Transformation, services map[string]*Service, cache *schemaCache) {
	var ts []*Transformation
	seen := map[string]bool{}
	for _, gn := range r.Spec.Gateways {
		n := r.EffectiveTransformation(gateways[gn])
		t := xs[n]
		if gateways[gn] == nil || t == nil || seen[n] || (!t.HasRequestBody() && !t.HasResponseBody()) {
			continue
		}
		seen[n] = true
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		return
	}
	if openAPITransformationSchema(o, r, ts, services, cache.docs) {
		return
	}
	protoTransformationSchema(o, r, ts, cache.sets)
}

// openAPITransformationSchema: the OpenAPI side; reports whether it
// refused.
func openAPITransformationSchema(o *objErrs, r *Route, ts []*Transformation, services map[string]*Service, docs docOperations) bool {
	v, from, err := r.EffectiveValidation(services)
	if err != nil || v == nil || len(v.Document) == 0 {
		return false
	}
	var matched []openapi.Operation
	for _, op := range docs.get(v.Document) {
		if routeMatchesOperation(r.Spec.Match, op) {
			matched = append(matched, op)
		}
	}
	if len(matched) == 0 {
		return false
	}
	req := &bodyCheck{
		schema: openAPIBodies{matched, false},
		says:   "cannot be in the request body of any operation this Route matches (%s)",
	}
	resp := &bodyCheck{
		schema: openAPIBodies{matched, true},
		after:  true,
		says:   "would make a response no operation this Route matches may return (%s; response validation sees the transformed response)",
	}
	enforced := v.Policy().Mode == openapi.Enforce
	for _, t := range ts {
		// Request ops are judged only when requests are enforced: in
		// logOnly mode a request the document rules out still reaches
		// the transformation (removing a field the document no longer
		// lists, while migrating, is then a sensible op).
		rq := req
		if !enforced {
			rq = nil
		}
		if why := transformationSchemaProblem(t, rq, resp); why != "" {
			o.add(transformationField(r), "Transformation %q %s in %s (the validation of %s)", t.Name, why, v.DocumentFile, from)
			return true
		}
	}
	return false
}

// A pathSchema says whether a JSON body path can exist in the bodies a
// schema describes: "" when it can (or the schema cannot tell), else why.
type pathSchema interface {
	canExist(segs []string) string
}

// bodyCheck judges one side's body ops against a schema. after: the
// schema describes the body after the transformation, so the paths the
// ops create are judged (responseWrites); else the body before it, so the
// paths they read (requestReads). says is the refusal after the op and
// path, with %s for the schema's reason.
type bodyCheck struct {
	schema pathSchema
	after  bool
	says   string
}

// transformationSchemaProblem says which op of t names a path the schema
// of its side rules out, or "". A nil check is not judged. Only JSON
// bodies are judged: a request whose ops read a non-JSON body (from) or
// write one (to, a template), a response likewise.
func transformationSchemaProblem(t *Transformation, req, resp *bodyCheck) string {
	if s := t.Spec.Request; req != nil && s != nil && s.Body != nil {
		if why := sideProblem("request", s.Body, req); why != "" {
			return why
		}
	}
	if s := t.Spec.Response; resp != nil && s != nil && s.Body != nil {
		return sideProblem("response", s.Body, resp)
	}
	return ""
}

func sideProblem(side string, b *transform.Body, c *bodyCheck) string {
	var paths []bodyPath
	switch {
	case c.after && b.Template == nil && (b.To == "" || b.To == "json"):
		paths = responseWrites(b.Ops)
	case !c.after && (b.From == "" || b.From == "json"):
		paths = requestReads(b.Ops)
	}
	for _, p := range paths {
		if why := c.schema.canExist(p.segs); why != "" {
			return fmt.Sprintf("%s.body.ops[%d].%s: %q "+c.says, side, p.i, p.field, strings.Join(p.segs, "."), why)
		}
	}
	return ""
}

// openAPIBodies are the request (or response) bodies of the operations a
// Route matches.
type openAPIBodies struct {
	matched  []openapi.Operation
	response bool
}

// canExist: "" when some schema of some matched operation allows segs,
// else the operations and the first schema's reason.
func (b openAPIBodies) canExist(segs []string) string {
	why := ""
	var names []string
	for _, op := range b.matched {
		schemas := op.Request
		if b.response {
			schemas = op.Response
		}
		if len(schemas) == 0 && why == "" {
			why = "no request body: the validator refuses one"
		}
		for _, s := range schemas {
			ok, w := openapi.CanExist(s, segs)
			if ok {
				return ""
			}
			if why == "" {
				why = w
			}
		}
		names = append(names, op.Name)
	}
	return fmt.Sprintf("%s: %s", strings.Join(names, ", "), why)
}

// bodyPath is a path an op reads or creates: op index, its field, segments.
type bodyPath struct {
	i     int
	field string
	segs  []string
}

func segs(p string) []string { return strings.Split(p, ".") }

// related: one path is a prefix of the other (or equal); the root (no
// segments) is related to every path.
func related(a, b []string) bool {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// opPaths: the path op takes its value from, the path whose shape it
// changes, and what it creates (nil for none). A wrap of "." or an unwrap
// of a top-level field replaces the root: changed is then empty (related
// to every path).
func opPaths(op transform.Op) (read []string, readField string, changed, created []string, createdField string) {
	switch {
	case op.Set != "":
		return nil, "", nil, segs(op.Set), "set"
	case op.Remove != "":
		return segs(op.Remove), "remove", nil, nil, ""
	case op.Rename != "":
		from := segs(op.Rename)
		to := append(append([]string(nil), from[:len(from)-1]...), op.To)
		return from, "rename", nil, to, "to"
	case op.Move != "":
		return segs(op.Move), "move", nil, segs(op.To), "to"
	case op.Wrap == ".":
		return nil, "", []string{}, []string{op.In}, "in"
	case op.Wrap != "":
		w := segs(op.Wrap)
		return w, "wrap", w, append(append([]string(nil), w...), op.In), "in"
	case op.Unwrap != "":
		u := segs(op.Unwrap)
		return u, "unwrap", u[:len(u)-1], nil, ""
	}
	return nil, "", nil, nil, ""
}

// requestReads are the paths the ops read from the body they are given
// (for OpenAPI, the client's request, which the document describes; for
// transcoding, the response the transcoder prints): an op's source is
// checked unless an earlier op created or reshaped a related path; a root
// change ends it.
func requestReads(ops []transform.Op) []bodyPath {
	var out []bodyPath
	var touched [][]string
	for i, op := range ops {
		read, field, changed, created, _ := opPaths(op)
		if read != nil && !relatedToAny(read, touched) {
			out = append(out, bodyPath{i, field, read})
		}
		if changed != nil && len(changed) == 0 {
			return out
		}
		for _, p := range [][]string{changed, created} {
			if p != nil {
				touched = append(touched, p)
			}
		}
	}
	return out
}

// responseWrites are the paths the ops create in the body they hand on
// (for OpenAPI, the response the client gets, which the document
// describes; for transcoding, the request the transcoder parses): checked
// unless a later op reads, reshapes or overwrites a related path.
func responseWrites(ops []transform.Op) []bodyPath {
	var out []bodyPath
	for i, op := range ops {
		_, _, _, created, field := opPaths(op)
		if created == nil || laterTouches(ops[i+1:], created) {
			continue
		}
		out = append(out, bodyPath{i, field, created})
	}
	return out
}

func laterTouches(ops []transform.Op, p []string) bool {
	for _, op := range ops {
		read, _, changed, created, _ := opPaths(op)
		if (read != nil && related(read, p)) || (changed != nil && related(changed, p)) ||
			(created != nil && len(created) <= len(p) && related(created, p)) {
			return true
		}
	}
	return false
}

func relatedToAny(p []string, ps [][]string) bool {
	for _, q := range ps {
		if related(p, q) {
			return true
		}
	}
	return false
}

// routeMatchesOperation: whether some request the Route's match accepts
// may be one of op's. Conservative: a regex matches every operation,
// segments: true is ignored (it only narrows), a path parameter matches
// any segment.
func routeMatchesOperation(m RouteMatch, op openapi.Operation) bool {
	if len(m.Methods) > 0 {
		found := false
		for _, meth := range m.Methods {
			found = found || strings.EqualFold(meth, op.Method)
		}
		if !found {
			return false
		}
	}
	for _, tmpl := range op.Paths {
		if pathMayMatch(m.Path, tmpl) {
			return true
		}
	}
	return false
}

func pathMayMatch(pm PathMatch, tmpl string) bool {
	if pm.Regex != "" {
		return true
	}
	exact, p := pm.Exact != "", pm.Exact
	if !exact {
		p = pm.Prefix
		if p == "" {
			p = "/"
		}
	}
	if pm.CaseInsensitive {
		p, tmpl = strings.ToLower(p), strings.ToLower(tmpl)
	}
	ps, ts := strings.Split(p, "/"), strings.Split(tmpl, "/")
	if len(ps) > len(ts) || (exact && len(ps) != len(ts)) {
		return false
	}
	for i, s := range ps {
		t := ts[i]
		switch {
		case strings.Contains(t, "{"):
			// a parameter: any segment
		case s == t:
		case !exact && i == len(ps)-1 && strings.HasPrefix(t, s):
		default:
			return false
		}
	}
	return true
}
