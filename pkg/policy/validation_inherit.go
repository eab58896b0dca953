package policy

import (
	"bytes"
	"fmt"
	"strings"
)

// A Service may carry a validation block too (issue 19: "a Route or
// Service may name an OpenAPI document"). It protects the Service, not
// one path to it: every Route whose backends name the Service runs it,
// unless the Route carries its own block (its own document, or
// {mode: off}).
//
// A Route whose backends disagree (another document, other modes or
// limits, one validated and one not) is refused at load time
// (resolveValidation). Envoy does pick a weighted cluster when it resolves
// the route, before the filters run, and a cluster entry may carry its own
// per-filter config (Envoy: source/common/router/
// weighted_cluster_specifier.cc, pickWeightedCluster and
// WeightedClusterEntry::mostSpecificPerFilterConfig), so per-backend
// validation could be wired. It is refused instead: the same request
// would then be accepted or refused by the weighted draw (a 10 % canary
// answering 400 at random), and anything that clears the route cache
// before the router makes Envoy draw again, after validation ran. One
// validation per Route keeps "validated" and "forwarded" the same request
// to the same API; a Route that means to split across APIs says which
// document applies with its own block.

// EffectiveValidation is the validation r's requests get and where it
// comes from ("Route/x", or the Services it is inherited from: "Service/a"
// or "Service/a, Service/b" when several backends carry the same one); nil
// for none. The Route's own block wins; {mode: off} is none. An error says
// the backends disagree (Load refuses such a Route; a hand-built Snapshot
// may hold one, and serving it would pick one document at random).
func (r *Route) EffectiveValidation(services map[string]*Service) (*Validation, string, error) {
	if v := r.Spec.Validation; v != nil {
		if v.Off() {
			return nil, "", nil
		}
		return v, r.Meta.Ref(), nil
	}
	v, from, i, other := r.inheritedValidation(services)
	if i >= 0 {
		return nil, "", fmt.Errorf("%s: spec.backends[%d].service: %s", r.Meta.Ref(), i, other)
	}
	return v, from, nil
}

// inheritedValidation is the validation r's backends carry. On a
// disagreement it returns the index of the first backend that differs
// and why; i is -1 otherwise.
func (r *Route) inheritedValidation(services map[string]*Service) (v *Validation, from string, i int, why string) {
	var froms []string
	var first *Service // the first backend's Service; its Ref only for an error
	for j, b := range r.Spec.Backends {
		s := services[b.Service]
		if s == nil {
			continue // a dangling reference, reported on its own
		}
		sv := s.Spec.Validation
		if first == nil {
			v, first = sv, s
		} else if !SameValidation(v, sv) {
			return nil, "", j, fmt.Sprintf("%s %s but %s %s; a request would be accepted or refused depending on which backend the weighted draw picks, so the backends of one Route must carry the same validation (or the Route its own)",
				s.Meta.Ref(), describeValidation(sv), first.Meta.Ref(), describeValidation(v))
		}
		if sv != nil && !strings.Contains(", "+strings.Join(froms, ", ")+", ", ", "+s.Meta.Ref()+", ") {
			froms = append(froms, s.Meta.Ref())
		}
	}
	if v == nil {
		return nil, "", -1, ""
	}
	return v, strings.Join(froms, ", "), -1, ""
}

// SameValidation reports whether a and b validate requests the same way:
// the same document bytes and the same modes and limits, defaults applied.
func SameValidation(a, b *Validation) bool {
	if a == nil || b == nil {
		return a == b
	}
	pa, pb := a.Policy(), b.Policy()
	return bytes.Equal(pa.Document, pb.Document) && pa.Mode == pb.Mode && pa.Responses == pb.Responses &&
		pa.MaxBodyBytes == pb.MaxBodyBytes && pa.MaxDepth == pb.MaxDepth
}

func describeValidation(v *Validation) string {
	if v == nil {
		return "has no validation"
	}
	p := v.Policy()
	s := fmt.Sprintf("validates against %s (mode %s, responses %s", v.DocumentFile, p.Mode, p.Responses)
	if v.MaxBodyKB != 0 {
		s += fmt.Sprintf(", maxBodyKB %d", v.MaxBodyKB)
	}
	if v.MaxDepth != 0 {
		s += fmt.Sprintf(", maxDepth %d", v.MaxDepth)
	}
	return s + ")"
}

// resolveValidation checks, once the Services are known, what a Route's
// inherited validation cannot be combined with: backends that disagree,
// a mirror that would receive requests its own validation never saw, a
// CONNECT tunnel or untranscoded gRPC calls (no REST requests to
// validate), and a path rewrite (the validator sees the client's path). A Route with its
// own block is checked in validateRoute; a Route with {mode: off} has
// chosen to send its Services unvalidated requests.
func resolveValidation(o *objErrs, r *Route, services map[string]*Service) {
	if r.Spec.Validation != nil {
		return
	}
	v, from, i, why := r.inheritedValidation(services)
	if i >= 0 {
		o.add(fmt.Sprintf("spec.backends[%d].service", i), "%s", why)
		return
	}
	for j, m := range r.Spec.Mirror {
		s := services[m.Service]
		if s == nil || s.Spec.Validation == nil || SameValidation(v, s.Spec.Validation) {
			continue
		}
		backends := "carry no validation"
		if v != nil {
			backends = "carry another one (" + from + " " + describeValidation(v) + ")"
		}
		o.add(fmt.Sprintf("spec.mirror[%d].service", j), "%s %s, but the Route's backends %s: mirrored copies would reach it without its validation; give the Route its own validation, or mirror to a Service whose validation matches",
			s.Meta.Ref(), describeValidation(s.Spec.Validation), backends)
	}
	if v != nil && r.Tunnels() {
		o.add("spec.validation", "%s's validation would apply to this CONNECT Route, whose tunnel carries bytes, not HTTP requests; set validation: {mode: off}", from)
		return
	}
	if v != nil && r.Spec.Transcoding == nil && r.allGRPC(services) {
		// The validator would buffer every gRPC stream as one body and
		// check protobuf frames against a REST document.
		o.add("spec.validation", "%s's validation describes REST requests, but this Route sends gRPC calls to it untranscoded; give the Route transcoding, or set validation: {mode: off}", from)
		return
	}
	if v != nil && r.Spec.Rewrite != nil && (r.Spec.Rewrite.Prefix != "" || r.Spec.Rewrite.Regex != nil) {
		s := services[firstRef(from)]
		o.add("spec.rewrite", "cannot be combined with the validation this Route inherits from %s (%s:%d, spec.validation): requests are validated with the path the client sent, before the rewrite; give the Route validation: {mode: off}, or its own validation describing the client-facing paths, or drop the rewrite",
			from, s.File, s.Line)
	}
}

// firstRef is the name of the first Service of a from list ("Service/a,
// Service/b" -> "a").
func firstRef(from string) string {
	first, _, _ := strings.Cut(from, ", ")
	return strings.TrimPrefix(first, KindService+"/")
}
