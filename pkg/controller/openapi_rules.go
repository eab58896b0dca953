package controller

import (
	"maps"

	"github.com/gatehouse-dev/gatehouse/pkg/openapi"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// OpenAPIRules are the validator's policies for snap, by the name the
// translator passes as gRPC initial metadata on each validated Route
// (Route.ValidationName).
func OpenAPIRules(snap *policy.Snapshot) map[string]openapi.Policy {
	out := map[string]openapi.Policy{}
	for _, r := range snap.Routes {
		if v := r.Spec.Validation; v != nil {
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
