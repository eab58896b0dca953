package policy

import "strings"

// validateTransformation: pkg/transform's own validation (the service
// refuses what it rejects, so the two cannot disagree), its first error
// reported on the field it names.
func validateTransformation(o *objErrs, t *Transformation) {
	if t.Name == TransformationNone {
		o.add("name", "%q is reserved: transformation: none turns a Gateway's default Transformation off", t.Name)
	}
	if t.Spec.Request == nil && t.Spec.Response == nil {
		if !o.badUnder("spec") {
			o.add("spec", "set request, response or both (a Transformation that changes nothing is a mistake)")
		}
		return
	}
	err := t.Spec.Validate()
	if err == nil {
		return
	}
	// Validate's message is "field.path: why".
	field, why, ok := strings.Cut(err.Error(), ": ")
	if !ok {
		o.add("spec", "%s", err)
		return
	}
	// "ops[0].op" is pkg/transform's name for the operation as a whole.
	o.add("spec."+strings.TrimSuffix(field, ".op"), "%s", why)
}

// resolveRouteTransformation checks the Transformation that applies to r
// on each of its Gateways (its own, else the Gateway default): a CONNECT
// tunnel has no request to transform, and body operations must not reach
// a gRPC Service.
func resolveRouteTransformation(o *objErrs, r *Route, gateways map[string]*Gateway, xs map[string]*Transformation, services map[string]*Service) {
	for _, gn := range r.Spec.Gateways {
		g := gateways[gn]
		if g == nil || r.Spec.Transformation != "" {
			continue
		}
		if n := r.EffectiveTransformation(g); n != "" && r.Tunnels() {
			o.add("spec.transformation", "%s's default Transformation %q would apply to this CONNECT Route, whose tunnel carries bytes, not HTTP requests; set transformation: none", g.Meta.Ref(), n)
			return
		}
	}
	seen := map[string]bool{}
	for _, gn := range r.Spec.Gateways {
		n := r.EffectiveTransformation(gateways[gn])
		if gateways[gn] == nil || n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if validateRouteTransformation(o, r, xs[n], services) {
			return
		}
	}
}

// transformationField is where a problem with r's Transformation is
// reported: its own field, or spec.gateways for a Gateway default.
func transformationField(r *Route) string {
	if r.Spec.Transformation == "" {
		return "spec.gateways"
	}
	return "spec.transformation"
}

// validateRouteTransformation: a Transformation whose body operations
// reach a gRPC Service would parse protobuf frames as JSON (every call
// refused 400, or a 502 on every answer): refused at load time instead.
// Headers, query and status changes are fine on gRPC. It reports whether
// it refused.
func validateRouteTransformation(o *objErrs, r *Route, t *Transformation, services map[string]*Service) bool {
	if t == nil || (!t.HasRequestBody() && !t.HasResponseBody()) {
		return false
	}
	// With transcoding the transformation filter runs before the
	// transcoder on the request and after it on the response: it sees
	// the REST call's JSON, never protobuf.
	if r.Spec.Transcoding != nil {
		return false
	}
	for _, b := range r.Spec.Backends {
		if s := services[b.Service]; s != nil && s.Spec.Protocol == ServiceGRPC {
			hint := "use header changes only"
			if r.Spec.Transformation == "" {
				hint = "set transformation: none on this Route"
			}
			o.add(transformationField(r), "Transformation %q changes bodies, but Service %q is GRPC (protobuf bodies cannot be transformed; %s)", t.Name, b.Service, hint)
			return true
		}
	}
	return false
}

// transformationName checks a Route's transformation field when present.
func transformationName(o *objErrs, r *Route) {
	if o.has("spec.transformation") && r.Spec.Transformation == "" {
		o.add("spec.transformation", "must name a Transformation, or be none to turn the Gateway default off")
	}
}
