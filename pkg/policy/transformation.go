package policy

import "strings"

// validateTransformation: pkg/transform's own validation (the service
// refuses what it rejects, so the two cannot disagree), its first error
// reported on the field it names.
func validateTransformation(o *objErrs, t *Transformation) {
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

// validateRouteTransformation: a Transformation whose body operations
// reach a gRPC Service would parse protobuf frames as JSON (every call
// refused 400, or a 502 on every answer): refused at load time instead.
// Headers, query and status changes are fine on gRPC.
func validateRouteTransformation(o *objErrs, r *Route, t *Transformation, services map[string]*Service) {
	if t == nil || (!t.HasRequestBody() && !t.HasResponseBody()) {
		return
	}
	// With transcoding the transformation filter runs before the
	// transcoder on the request and after it on the response: it sees
	// the REST call's JSON, never protobuf.
	if r.Spec.Transcoding != nil {
		return
	}
	for _, b := range r.Spec.Backends {
		if s := services[b.Service]; s != nil && s.Spec.Protocol == ServiceGRPC {
			o.add("spec.transformation", "Transformation %q changes bodies, but Service %q is GRPC (protobuf bodies cannot be transformed; use header changes only)", t.Name, b.Service)
			return
		}
	}
}

// transformationName checks a Route's transformation field when present.
func transformationName(o *objErrs, r *Route) {
	if o.has("spec.transformation") && r.Spec.Transformation == "" {
		o.add("spec.transformation", "must name a Transformation (omit it for none)")
	}
}
