package controller

import (
	"maps"

	"github.com/gatehouse-dev/gatehouse/pkg/openapi"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// OpenAPIRules are the validator's policies for snap, by the name the
// translator passes as gRPC initial metadata on each validated Route
// (Route.ValidationName): the Route's own validation or the one it
// inherits from its Services. A Route whose backends disagree (Load
// refuses it; the translator fails the build) gets none here: the
// validator refuses a stream naming no policy (closed).
func OpenAPIRules(snap *policy.Snapshot) map[string]openapi.Policy {
	out := map[string]openapi.Policy{}
	for _, r := range snap.Routes {
		if v, _, err := r.EffectiveValidation(snap.Services); v != nil && err == nil {
			out[r.ValidationName()] = v.Policy()
		}
	}
	return out
}

// openAPIWithNames: base's validations plus other's that base lacks.
func openAPIWithNames(base, other map[string]openapi.Policy) map[string]openapi.Policy {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]openapi.Policy{}
	}
	addMissing(out, other)
	return out
}
