package explain

import (
	"fmt"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/openapi"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/transform"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// The external processing filters (xds/translate waf.go, openapi.go,
// transform.go) call gatehouse's own services: the WAF, request
// validation and transformation. Each filter is configured once per
// connection manager; a route names the object its streams run (gRPC
// initial metadata in its ExtProcPerRoute overrides, merged over the
// filter's by key: Envoy source/extensions/filters/http/ext_proc/
// ext_proc.cc, mergeGrpcInitialMetadata) or disables the filter. Which
// object runs is read from the route, as Envoy would; what it does (mode,
// document, where it came from) from the policy object it names.

// FirewallInfo is the WAF on this route.
type FirewallInfo struct {
	Name string `json:"name"` // the Firewall object
	// From: the Route names it, or it is its Gateway's default.
	From          string `json:"from"`
	Mode          string `json:"mode"` // "blocking" or "detection only"
	ParanoiaLevel int    `json:"paranoia_level"`
	// Inbound and Outbound are the anomaly score thresholds.
	Inbound         int  `json:"inbound_threshold"`
	Outbound        int  `json:"outbound_threshold"`
	InspectResponse bool `json:"inspect_response,omitempty"`
	// FailureMode: "closed" (the request is refused when the WAF cannot
	// answer) or "open".
	FailureMode string `json:"failure_mode"`
}

// ValidationInfo is request validation on this route.
type ValidationInfo struct {
	Name     string `json:"name"`     // the validator's name for it (the Route's)
	Document string `json:"document"` // the OpenAPI document's path
	// From: the Route that carries it ("Route/x") or the Services it is
	// inherited from ("Service/a").
	From      string `json:"from"`
	Mode      string `json:"mode"`      // enforce or logOnly
	Responses string `json:"responses"` // off or logOnly
	MaxBodyKB int    `json:"max_body_kb"`
	MaxDepth  int    `json:"max_depth"`
}

// TransformationInfo is the Transformation on this route and what it
// changes on each side.
type TransformationInfo struct {
	Name     string   `json:"name"`
	Request  []string `json:"request,omitempty"`  // "headers", "query", "body"
	Response []string `json:"response,omitempty"` // "headers", "status", "body"
}

// extProc explains one of gatehouse's external processing filters on this
// route. Without a route's override the filter still runs and names no
// object: the service refuses such a stream (fail closed).
func (e *explainer) extProc(info *RouteInfo, name string, per *anypb.Any) (FilterStep, error) {
	step := FilterStep{Filter: name}
	if per == nil {
		step.Effect = "runs with no policy named by the route: the service refuses the request (fails closed)"
		return step, nil
	}
	pr := &extprocv3.ExtProcPerRoute{}
	if err := per.UnmarshalTo(pr); err != nil {
		return step, err
	}
	if pr.GetDisabled() {
		step.Effect = "disabled on this route" + e.extProcOff(info, name)
		return step, nil
	}
	md := map[string]string{}
	for _, h := range pr.GetOverrides().GetGrpcInitialMetadata() {
		md[h.GetKey()] = h.GetValue()
	}
	switch name {
	case wire.FilterWAF:
		step.Effect = e.firewall(info, md[wire.WAFPolicyMetadataKey])
	case wire.FilterOpenAPI:
		step.Effect = e.validation(info, md[wire.OpenAPIPolicyMetadataKey])
	case wire.FilterTransform:
		step.Effect = e.transformation(info, md[wire.TransformMetadataKey])
	default:
		step.Effect = "external processing (not modelled by explain)"
	}
	return step, nil
}

// policyRoute is the policy Route this route was built from, if any.
func (e *explainer) policyRoute(info *RouteInfo) *policy.Route {
	if e.in.Policy == nil {
		return nil
	}
	return e.in.Policy.Routes[info.Name]
}

// extProcOff says why a filter is off on this route when the policy has a
// reason worth reading: a Route turning off what it would inherit.
func (e *explainer) extProcOff(info *RouteInfo, name string) string {
	r := e.policyRoute(info)
	if r == nil {
		return ""
	}
	switch {
	case name == wire.FilterWAF && r.Spec.Firewall == policy.FirewallNone:
		return " (firewall: none turns the Gateway's default off)"
	case name == wire.FilterOpenAPI && r.Spec.Validation.Off():
		var from []string
		for _, b := range r.Spec.Backends {
			if s := e.in.Policy.Services[b.Service]; s != nil && s.Spec.Validation != nil {
				from = append(from, s.Meta.Ref())
			}
		}
		if len(from) > 0 {
			return " (validation: {mode: off} turns off " + strings.Join(from, ", ") + "'s validation)"
		}
		return " (validation: {mode: off})"
	}
	return ""
}

func (e *explainer) firewall(info *RouteInfo, name string) string {
	fw := e.in.Policy.Firewalls[name]
	if fw == nil {
		return fmt.Sprintf("runs Firewall %s, which the policy does not hold", name)
	}
	sp := fw.Spec
	fi := &FirewallInfo{Name: name, Mode: "blocking", ParanoiaLevel: max(sp.ParanoiaLevel, 1), Inbound: 5, Outbound: 4,
		InspectResponse: sp.InspectResponse, FailureMode: "closed"}
	if t := sp.AnomalyThresholds; t != nil {
		fi.Inbound, fi.Outbound = orDefault(t.Inbound, 5), orDefault(t.Outbound, 4)
	}
	if sp.DetectionOnly {
		fi.Mode = "detection only"
	}
	if sp.FailureMode == policy.FailureModeAllow {
		fi.FailureMode = "open"
	}
	if r := e.policyRoute(info); r != nil {
		fi.From = r.Meta.Ref()
		if r.Spec.Firewall == "" {
			fi.From = "Gateway/" + e.req.Gateway + " (defaults.firewall)"
		}
	}
	info.Firewall = fi
	s := fmt.Sprintf("Firewall %s (OWASP CRS, paranoia level %d): ", name, fi.ParanoiaLevel)
	if sp.DetectionOnly {
		s += "detection only: scores and logs the request, never blocks"
	} else {
		s += fmt.Sprintf("a request scoring %d or more is refused: 403", fi.Inbound)
	}
	if sp.InspectResponse {
		s += "; inspects the response too"
	}
	return s + "; WAF unreachable: fails " + fi.FailureMode
}

func (e *explainer) validation(info *RouteInfo, name string) string {
	ref := strings.TrimPrefix(name, policy.KindRoute+"/")
	r := e.in.Policy.Routes[ref]
	if r == nil {
		return fmt.Sprintf("runs validation %s, which the policy does not hold: the validator refuses the request", name)
	}
	v, from, err := r.EffectiveValidation(e.in.Policy.Services)
	if err != nil || v == nil {
		return fmt.Sprintf("runs validation %s, for which the policy has none: the validator refuses the request", name)
	}
	p := v.Policy()
	vi := &ValidationInfo{Name: name, Document: v.DocumentFile, From: from, Mode: string(p.Mode), Responses: string(p.Responses),
		MaxBodyKB: orDefault(v.MaxBodyKB, openapi.DefaultMaxBodyBytes>>10), MaxDepth: orDefault(v.MaxDepth, openapi.DefaultMaxDepth)}
	info.Validation = vi
	s := fmt.Sprintf("validates against %s (from %s): ", vi.Document, from)
	if p.Mode == openapi.LogOnly {
		s += fmt.Sprintf("log only: a request that does not match (or whose body is over %d KiB) is forwarded and recorded", vi.MaxBodyKB)
	} else {
		s += fmt.Sprintf("a request that does not match: 400 naming the field; a body over %d KiB: 413", vi.MaxBodyKB)
	}
	if p.Responses == openapi.LogOnly {
		s += "; responses checked, log only"
	}
	return s + "; validator unreachable: fails closed"
}

func (e *explainer) transformation(info *RouteInfo, name string) string {
	x := e.in.Policy.Transformations[name]
	if x == nil {
		return fmt.Sprintf("runs Transformation %s, which the policy does not hold", name)
	}
	ti := &TransformationInfo{Name: name, Request: sideChanges(x.Spec.Request), Response: sideChanges(x.Spec.Response)}
	info.Transformation = ti
	var parts []string
	if len(ti.Request) > 0 {
		parts = append(parts, "the request's "+strings.Join(ti.Request, ", "))
	}
	if len(ti.Response) > 0 {
		parts = append(parts, "the response's "+strings.Join(ti.Response, ", "))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing")
	}
	return "Transformation " + name + " changes " + strings.Join(parts, "; ")
}

// sideChanges lists what a Transformation side changes.
func sideChanges(s *transform.Side) []string {
	if s == nil {
		return nil
	}
	var out []string
	if len(s.SetHeaders) > 0 || len(s.RemoveHeaders) > 0 {
		out = append(out, "headers")
	}
	if len(s.SetQuery) > 0 || len(s.RemoveQuery) > 0 {
		out = append(out, "query")
	}
	if len(s.Status) > 0 {
		out = append(out, "status")
	}
	if s.Body != nil {
		out = append(out, "body")
	}
	return out
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// isExtProcFilter: the filters extProc explains.
func isExtProcFilter(name string) bool {
	return name == wire.FilterWAF || name == wire.FilterOpenAPI || name == wire.FilterTransform
}
