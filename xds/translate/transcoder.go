package translate

import (
	transcoderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// REST to gRPC (a Route's transcoding block) is Envoy's gRPC-JSON
// transcoder (envoy.filters.http.grpc_json_transcoder, stable and
// robust_to_untrusted_downstream in source/extensions/
// extensions_metadata.yaml). One filter per connection manager, only
// when some Route of the Gateway transcodes, last before the router; its
// filter-level config lists no service, which Envoy takes as disabled
// (source/extensions/filters/http/grpc_json_transcoder/filter_config.cc:
// "disabled_ = proto_config.services().empty()", before the descriptor
// is even parsed), so Routes without transcoding pay one pointer check.
// Each transcoding Route carries the full config as its per-route config
// (the most specific config wins: transcoder.proto).

// anyTranscoderDisabled is the filter-level config: no services, so
// disabled. The descriptor set is required by the API's validation
// (transcoder.proto: descriptor_set is a required oneof); an empty set
// is never parsed.
var anyTranscoderDisabled = mustAny(&transcoderv3.GrpcJsonTranscoder{
	DescriptorSet: &transcoderv3.GrpcJsonTranscoder_ProtoDescriptorBin{ProtoDescriptorBin: []byte{}},
})

// transcoderPerRoute is a Route's transcoder: its descriptor set embedded
// (proto_descriptor_bin: the proxies need no file), its services, print
// options and:
//   - match_incoming_request_route: the request keeps the Route it
//     matched with its REST path. Otherwise the filter clears the route
//     cache and Envoy routes the request again by its gRPC path
//     (/package.Service/Method), past the checks of the Route that was
//     authorized, or to no Route at all (json_transcoder_filter.cc,
//     decodeHeaders: clearRouteCache unless matchIncomingRequestInfo).
//   - reject_unknown_method and reject_unknown_query_parameters: a REST
//     call that maps to no method, or with a query parameter that is no
//     field, is refused (404, 400) instead of passed through untranscoded
//     to a gRPC server that resets it (a 503 that retries would repeat).
//   - reject_binding_body_field_collisions: a body field that differs
//     from the value the path bound is refused (400). By default the body
//     wins (transcoder.proto, RequestValidationOptions), so a client
//     authorized for POST /v1/shelves/7:archive could archive shelf 8 by
//     sending {"name": "shelves/8"}: authorization, rate-limit keys and
//     the WAF judge the path, the upstream would act on the body.
//   - convert_grpc_status: a gRPC error reaches the REST client as a
//     JSON google.rpc.Status body with the mapped HTTP status.
func transcoderPerRoute(t *policy.Transcoding) *anyT {
	cfg := &transcoderv3.GrpcJsonTranscoder{
		DescriptorSet:             &transcoderv3.GrpcJsonTranscoder_ProtoDescriptorBin{ProtoDescriptorBin: t.Descriptor},
		Services:                  t.Services,
		MatchIncomingRequestRoute: true,
		ConvertGrpcStatus:         true,
		RequestValidationOptions: &transcoderv3.GrpcJsonTranscoder_RequestValidationOptions{
			RejectUnknownMethod:              true,
			RejectUnknownQueryParameters:     true,
			RejectBindingBodyFieldCollisions: true,
		},
	}
	if p := t.Print; p != nil {
		cfg.PrintOptions = &transcoderv3.GrpcJsonTranscoder_PrintOptions{
			AddWhitespace:              p.AddWhitespace,
			AlwaysPrintPrimitiveFields: p.AlwaysPrintPrimitiveFields,
			AlwaysPrintEnumsAsInts:     p.AlwaysPrintEnumsAsInts,
			PreserveProtoFieldNames:    p.PreserveProtoFieldNames,
		}
	}
	return mustAny(cfg)
}
