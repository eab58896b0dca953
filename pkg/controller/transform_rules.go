package controller

import (
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/transform"
)

// TransformRules are the transformation service's Transformations for
// snap, by name (the name the translator passes as gRPC initial metadata
// on each Route that uses one).
func TransformRules(snap *policy.Snapshot) map[string]transform.Transformation {
	out := make(map[string]transform.Transformation, len(snap.Transformations))
	for name, x := range snap.Transformations {
		out[name] = x.Spec
	}
	return out
}
