package policy

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/openapi"
)

// Validation checks a Route's requests against an OpenAPI 3 document in
// gatehouse's validator (pkg/openapi, an ext_proc processor). A Route
// carries it, or inherits it from the Service its backends name
// (Route.EffectiveValidation).
type Validation struct {
	// OpenAPI is the document's path, relative to the policy file.
	OpenAPI string `yaml:"openapi"`
	// Mode: enforce (default) refuses a request that does not match with a
	// 400 problem document; logOnly forwards it and records the failure;
	// off (a Route only, and alone) turns its Services' validation off.
	Mode string `yaml:"mode"`
	// Responses: off (default) or logOnly (record responses that do not
	// match; a response is never refused, the upstream has acted).
	Responses string `yaml:"responses"`
	// MaxBodyKB (default 1024) and MaxDepth (default 32) bound request
	// bodies (413 and 400).
	MaxBodyKB int `yaml:"maxBodyKB"`
	MaxDepth  int `yaml:"maxDepth"`

	// Filled by Load (not YAML fields): the document's bytes and its path
	// relative to the policy directory.
	Document     []byte `yaml:"-"`
	DocumentFile string `yaml:"-"`
}

// Validation modes (policy spelling).
const (
	ValidationEnforce = "enforce"
	ValidationLogOnly = "logOnly"
	ValidationOff     = "off"
)

// MaxValidationBodyKB caps maxBodyKB: the validator holds the body in
// memory, per request, and Envoy buffers it (BUFFERED mode).
const MaxValidationBodyKB = 16 << 10

// MaxValidationDepth caps maxDepth.
const MaxValidationDepth = 512

// Policy is what the validator runs (defaults applied).
func (v *Validation) Policy() openapi.Policy {
	p := openapi.Policy{Document: v.Document, Mode: openapi.Enforce, Responses: openapi.Off, MaxBodyBytes: v.MaxBodyKB << 10, MaxDepth: v.MaxDepth}
	if v.Mode == ValidationLogOnly {
		p.Mode = openapi.LogOnly
	}
	if v.Responses == ValidationLogOnly {
		p.Responses = openapi.LogOnly
	}
	return p
}

// Off reports a Route's validation: {mode: off}, which turns off the
// validation its Services carry.
func (v *Validation) Off() bool { return v != nil && v.Mode == ValidationOff }

// validateValidation checks the fields and loads and compiles the
// document, so a document that cannot be read, does not parse or does not
// validate rejects the object naming it (file, line, field), not requests
// later. onRoute: the block is a Route's, which may be {mode: off}.
func validateValidation(files *fileReader, o *objErrs, p, policyFile string, v *Validation, onRoute bool) {
	if v == nil {
		return
	}
	switch v.Mode {
	case "", ValidationEnforce, ValidationLogOnly:
	case ValidationOff:
		if !onRoute {
			o.add(p+".mode", "off is for a Route turning its Service's validation off; remove validation from the Service instead")
			return
		}
		// Off means nothing else applies: a document or a limit next to
		// it would read as if it did.
		for _, f := range []string{"openapi", "responses", "maxBodyKB", "maxDepth"} {
			if o.has(p + "." + f) {
				o.add(p+"."+f, "contradicts mode: off (no validation); remove it, or choose mode %s or %s", ValidationEnforce, ValidationLogOnly)
			}
		}
		return
	default:
		modes := ValidationEnforce + ", " + ValidationLogOnly
		if onRoute {
			modes += ", " + ValidationOff
		}
		o.add(p+".mode", "%q is not a validation mode; one of %s", v.Mode, modes)
	}
	switch v.Responses {
	case "", ValidationOff, ValidationLogOnly:
	case ValidationEnforce:
		o.add(p+".responses", "responses cannot be enforced (the upstream has already acted on the request); use %s or %s", ValidationLogOnly, ValidationOff)
	default:
		o.add(p+".responses", "%q is not a response validation mode; one of %s, %s", v.Responses, ValidationLogOnly, ValidationOff)
	}
	if o.has(p+".maxBodyKB") && (v.MaxBodyKB < 1 || v.MaxBodyKB > MaxValidationBodyKB) {
		o.add(p+".maxBodyKB", "%d is out of range; 1..%d (the validator keeps the body in memory)", v.MaxBodyKB, MaxValidationBodyKB)
	}
	if o.has(p+".maxDepth") && (v.MaxDepth < 1 || v.MaxDepth > MaxValidationDepth) {
		o.add(p+".maxDepth", "%d is out of range; 1..%d", v.MaxDepth, MaxValidationDepth)
	}
	if o.badUnder(p) {
		return
	}
	data, full, ok := files.readRelative(o, p+".openapi", policyFile, v.OpenAPI)
	if !ok {
		return
	}
	v.Document, v.DocumentFile = data, full
	if err := openapi.Check(v.Policy()); err != nil {
		o.add(p+".openapi", "%s: %s", full, firstLines(err.Error(), 3))
	}
}

// firstLines keeps a long parser message readable in a one-line error.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " ")
}

// ValidationName is the name the validator knows r's validation by
// (pkg/openapi policies; the ext_proc stream names it), whether r carries
// it or inherits it from its Services: one name per Route, so a Route
// never runs another Route's validation.
func (r *Route) ValidationName() string { return r.Meta.Ref() }
