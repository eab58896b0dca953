package explain

import (
	"fmt"
	"sort"
	"strings"

	transcoderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/transcode"
)

// Transcoding is what Envoy's gRPC-JSON transcoder does with the request
// on this route: the gRPC method it calls, or why it refuses.
type Transcoding struct {
	// GRPCMethod is the call the upstream gets (/package.Service/Method);
	// Binding the google.api.http rule that matched ("GET /v1/{name=*}").
	GRPCMethod string `json:"grpc_method,omitempty"`
	Binding    string `json:"binding,omitempty"`
	// PathFields and QueryFields bind request fields to values from the
	// path and the query; Body says where the JSON body goes ("*": the
	// whole request message, "": no body is read).
	PathFields  map[string]string `json:"path_fields,omitempty"`
	QueryFields map[string]string `json:"query_fields,omitempty"`
	Body        string            `json:"body,omitempty"`
	// Refused is the status and reason when the transcoder answers
	// itself instead.
	Refused string `json:"refused,omitempty"`
}

// transcoder explains the transcoder on this route from its most
// specific config: the route's own (the translator's per-route config) or
// the filter's, which lists no service and so is disabled (Envoy:
// source/extensions/filters/http/grpc_json_transcoder/filter_config.cc).
// The method lookup follows grpc-httpjson-transcoding's path matcher
// (pkg/transcode.Lookup); the refusals follow the strict request
// validation the translator sets (reject_unknown_method: 404,
// reject_unknown_query_parameters: 400).
func (e *explainer) transcoder(info *RouteInfo, name string, filterCfg, per *anypb.Any, f *facts) (FilterStep, error) {
	a := per
	if a == nil {
		a = filterCfg
	}
	cfg := &transcoderv3.GrpcJsonTranscoder{}
	if err := a.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	if len(cfg.GetServices()) == 0 {
		return FilterStep{Filter: name, Effect: "disabled on this route (no transcoding): passes the request through"}, nil
	}
	if ct, _ := f.headers.header("content-type"); strings.HasPrefix(ct, "application/grpc") {
		return FilterStep{Filter: name, Effect: "passes the gRPC call through untranscoded (content-type " + ct + ")"}, nil
	}
	set, err := transcode.Load(cfg.GetProtoDescriptorBin())
	if err != nil {
		return FilterStep{}, fmt.Errorf("descriptor set: %w", err)
	}
	var bs []transcode.Binding
	for _, s := range cfg.GetServices() {
		b, err := set.Bindings(s)
		if err != nil {
			return FilterStep{}, err
		}
		bs = append(bs, b...)
	}
	t := &Transcoding{}
	info.Transcoding = t
	method, _ := f.headers.header(":method")
	path := f.headers.path()
	m := transcode.Lookup(bs, method, path)
	if m == nil {
		t.Refused = fmt.Sprintf("404: no google.api.http rule of %s maps %s %s (reject_unknown_method)", strings.Join(cfg.GetServices(), ", "), method, withoutQuery(path))
		return FilterStep{Filter: name, Effect: "refuses " + t.Refused}, nil
	}
	t.GRPCMethod, t.Binding, t.Body = m.Binding.GRPCPath(), m.Binding.HTTPMethod+" "+m.Binding.Template.Raw, m.Binding.Body
	t.PathFields, t.QueryFields = m.Path, m.Query
	if len(m.UnknownQuery) > 0 && cfg.GetRequestValidationOptions().GetRejectUnknownQueryParameters() {
		t.Refused = fmt.Sprintf("400: query parameter(s) %s are no field of the request of %s (reject_unknown_query_parameters)", strings.Join(m.UnknownQuery, ", "), t.GRPCMethod)
		return FilterStep{Filter: name, Effect: "refuses " + t.Refused}, nil
	}
	return FilterStep{Filter: name, Effect: t.summary()}, nil
}

// summary is one line: the call and where each field comes from.
func (t *Transcoding) summary() string {
	s := fmt.Sprintf("transcodes to gRPC %s (rule %s)", t.GRPCMethod, t.Binding)
	var from []string
	for _, k := range sortedMapKeys(t.PathFields) {
		from = append(from, fmt.Sprintf("%s=%q from the path", k, t.PathFields[k]))
	}
	for _, k := range sortedMapKeys(t.QueryFields) {
		from = append(from, fmt.Sprintf("%s=%q from the query", k, t.QueryFields[k]))
	}
	switch t.Body {
	case "":
	case "*":
		from = append(from, "the JSON body fills the rest of the request")
	default:
		from = append(from, "the JSON body fills "+t.Body)
	}
	if len(from) > 0 {
		s += ": " + strings.Join(from, ", ")
	}
	if t.Body != "" && len(t.PathFields) > 0 {
		// reject_binding_body_field_collisions (the translator sets it).
		s += "; a body value for a path field that differs from the path's is refused 400"
	}
	for _, k := range sortedMapKeys(t.QueryFields) {
		if _, ok := t.PathFields[k]; ok {
			s += fmt.Sprintf("; WARNING: the query parameter %s names a field the path already binds: do not rely on the path alone for decisions about it", k)
		}
	}
	return s + "; the upstream gets POST " + t.GRPCMethod + " (application/grpc), the client JSON"
}

func sortedMapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
