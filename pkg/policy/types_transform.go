package policy

import "github.com/gatehouse-dev/gatehouse/pkg/transform"

// ---- Transformation ----

// Transformation reshapes the requests and responses of the Routes that
// name it (transformation: NAME), in gatehouse's transformation service
// (pkg/transform, Envoy's ext_proc). Its spec is pkg/transform's
// Transformation as written: request and response blocks, each with
// header, query, status and body changes (docs/transformations.md).
type Transformation struct {
	Meta `yaml:",inline"`
	Spec transform.Transformation `yaml:"spec"`
}

// HasRequestBody reports whether the Transformation reads or replaces the
// request body (Envoy must then buffer it and send it).
func (t *Transformation) HasRequestBody() bool {
	return t.Spec.Request != nil && t.Spec.Request.Body != nil
}

// HasResponseBody reports whether it reads or replaces the response body.
func (t *Transformation) HasResponseBody() bool {
	return t.Spec.Response != nil && t.Spec.Response.Body != nil
}
