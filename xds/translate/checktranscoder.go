package translate

import (
	"strings"

	transcoderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/transcode"
)

// transcoderFilter: the filter-level transcoder lists no service, which
// Envoy takes as disabled (filter_config.cc: disabled_ when services is
// empty); Routes enable it with their own config, so a Route without
// transcoding never transcodes.
func (c *checker) transcoderFilter(where string, a *anypb.Any) {
	m := &transcoderv3.GrpcJsonTranscoder{}
	if !c.unmarshal(where, a, m) {
		return
	}
	if len(m.GetServices()) > 0 {
		c.fail("%s: the transcoder's filter-level config must list no service (disabled; Routes enable it), has %s", where, strings.Join(m.GetServices(), ", "))
	}
}

// transcoderRoute: a Route's transcoder passes the checks Envoy makes
// when it builds the config, which would otherwise refuse the whole
// route table (Envoy source/extensions/filters/http/grpc_json_transcoder/
// filter_config.cc, JsonTranscoderConfig: "Unable to parse proto
// descriptor", "Unable to build proto descriptor pool" (files built in
// order, each from the ones before), "Could not find '...' in the proto
// descriptor", "Cannot register '...'" (createMethodInfo: body and
// response_body resolve, response_body only for google.api.HttpBody;
// RegisterByHttpRule: the template parses)), and gatehouse's own rules:
// an embedded set (no file on the proxies), no ambiguous mappings, the
// incoming route kept (no re-routing by the gRPC path past the Route's
// checks), unknown methods and query parameters refused rather than
// passed through, a body never overriding a path-bound field, and no auto_mapping (it would publish every method).
func (c *checker) transcoderRoute(where string, a *anypb.Any) {
	if c.transcoderDone[string(a.GetValue())] {
		return
	}
	if c.transcoderDone == nil {
		c.transcoderDone = map[string]bool{}
	}
	c.transcoderDone[string(a.GetValue())] = true
	m := &transcoderv3.GrpcJsonTranscoder{}
	if !c.unmarshal(where, a, m) {
		return
	}
	if len(m.GetServices()) == 0 {
		c.fail("%s: a Route's transcoder must list its services", where)
	}
	vo := m.GetRequestValidationOptions()
	switch {
	case !m.GetMatchIncomingRequestRoute():
		c.fail("%s: the transcoder must set match_incoming_request_route: the request would be routed again by its gRPC path, past its Route's checks", where)
	case m.GetAutoMapping():
		c.fail("%s: the transcoder must not set auto_mapping: it publishes every method of the services as POST /package.Service/Method", where)
	case !vo.GetRejectUnknownMethod() || !vo.GetRejectUnknownQueryParameters():
		c.fail("%s: the transcoder must reject unknown methods and query parameters (reject_unknown_method, reject_unknown_query_parameters): otherwise they pass through untranscoded to a gRPC server", where)
	case !vo.GetRejectBindingBodyFieldCollisions():
		c.fail("%s: the transcoder must set reject_binding_body_field_collisions: a body field would otherwise override the value the path bound, which authorization judged", where)
	case m.GetIgnoreUnknownQueryParameters() || m.GetCaptureUnknownQueryParameters() || len(m.GetIgnoredQueryParameters()) > 0:
		c.fail("%s: the transcoder must not ignore or capture query parameters (they take priority over rejecting unknown ones)", where)
	}
	bin, ok := m.GetDescriptorSet().(*transcoderv3.GrpcJsonTranscoder_ProtoDescriptorBin)
	if !ok {
		c.fail("%s: the transcoder's descriptor set must be embedded (proto_descriptor_bin); the proxies have no descriptor file", where)
		return
	}
	set, err := transcode.Load(bin.ProtoDescriptorBin)
	if err != nil {
		c.fail("%s: Envoy would refuse the transcoder's descriptor set: %v", where, err)
		return
	}
	var all []transcode.Binding
	for _, s := range m.GetServices() {
		bs, err := set.Bindings(s)
		if err != nil {
			c.fail("%s: %v", where, err)
			continue
		}
		all = append(all, bs...)
	}
	if err := transcode.Ambiguous(all); err != nil {
		c.fail("%s: %v", where, err)
	}
}

// transcoderOrder: the transcoder is the last filter before the router.
// Every filter that reads or changes the request as the client sent it
// (the WAF, request validation, transformation, all of which expect
// JSON; CORS, authentication, authorization and rate limits, which match
// the REST path) runs before it on the request and after it on the
// response, when the body is JSON again.
func (c *checker) transcoderOrder(where string, fs []*hcmv3.HttpFilter) {
	for i, f := range fs {
		if filterType(f) == transcoderType && i+2 != len(fs) {
			c.fail("%s http filter %q: the transcoder must come right before the router (every REST-facing filter before it)", where, f.GetName())
		}
	}
}
