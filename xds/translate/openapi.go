package translate

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Request validation (a Route's validation: an OpenAPI document) is its
// own ext_proc filter calling gatehouse's validator (pkg/openapi, behind
// the pkg/extproc dispatcher): one filter per connection manager, after
// the WAF (which inspects the client's raw request) and before
// transformation and fault injection; each Route names its validation
// (gRPC initial metadata, set here, never by the client) or disables the
// filter, so Routes without validation do not pay for it.

var anyOpenAPIDisabled = mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}})

// DefaultOpenAPITimeout bounds one message exchange with the validator;
// past it the request is refused (fail closed). Validating a 4 KiB JSON
// body takes well under a millisecond in-process (pkg/openapi
// BenchmarkValidate); the bound is for a busy control plane.
const DefaultOpenAPITimeout = time.Second

// openAPIMode is what Envoy sends the validator. Request headers, the
// whole body BUFFERED (Envoy holds the headers until the body's answer:
// processor_state.cc handleHeadersResponse, as for the WAF, so an invalid
// request never reaches the upstream) and trailers (with trailers the
// body's last message is not end_of_stream, and validation runs when the
// request ends). Responses, validated in log-only mode only, are STREAMED:
// Envoy forwards each chunk as it answers it (ext_proc.cc onData,
// "At this point we will continue"), so recording a mismatch never holds
// or breaks a response, and a response over Envoy's buffer limit is not
// refused as it would be BUFFERED.
func openAPIMode(responses bool) *extprocv3.ProcessingMode {
	m := &extprocv3.ProcessingMode{
		RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
		RequestBodyMode:     extprocv3.ProcessingMode_BUFFERED,
		RequestTrailerMode:  extprocv3.ProcessingMode_SEND,
		ResponseHeaderMode:  extprocv3.ProcessingMode_SKIP,
		ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
		ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
	}
	if responses {
		m.ResponseHeaderMode = extprocv3.ProcessingMode_SEND
		m.ResponseBodyMode = extprocv3.ProcessingMode_STREAMED
		m.ResponseTrailerMode = extprocv3.ProcessingMode_SEND
	}
	return m
}

// openAPIConfig is the Gateway's validation filter. failure_mode_allow
// stays false: a validator that cannot be reached or times out refuses the
// request. Without a Route's override the stream names no validation and
// the validator refuses it (FAILED_PRECONDITION): closed, not open.
func openAPIConfig() *anyT {
	return mustAny(&extprocv3.ExternalProcessor{
		GrpcService: &corev3.GrpcService{
			TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: wire.ExtProcCluster}},
			InitialMetadata: []*corev3.HeaderValue{{Key: wire.ProcessorMetadataKey, Value: wire.ProcessorOpenAPI}},
		},
		FailureModeAllow: false,
		ProcessingMode:   openAPIMode(false),
		MessageTimeout:   durationpb.New(DefaultOpenAPITimeout),
		// The decision (location, field) reaches the access log through
		// this namespace (ext_proc.cc, untyped_receiving_namespaces_).
		MetadataOptions: &extprocv3.MetadataOptions{ReceivingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{wire.OpenAPIMetadataNamespace}}},
		StatPrefix:      "openapi",
	})
}

// openAPIPerRoute names the Route's validation v, its own or the one it
// inherits from its Services (merged over the filter's metadata by key:
// ext_proc.cc mergeGrpcInitialMetadata) and sets its processing mode
// (ext_proc.cc initProcessingMode). The name is the Route's either way
// (pkg/controller OpenAPIRules gives the validator the same policy).
func openAPIPerRoute(r *policy.Route, v *policy.Validation) *anyT {
	return mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Overrides{Overrides: &extprocv3.ExtProcOverrides{
		ProcessingMode:      openAPIMode(v.Responses == policy.ValidationLogOnly),
		GrpcInitialMetadata: []*corev3.HeaderValue{{Key: wire.OpenAPIPolicyMetadataKey, Value: r.ValidationName()}},
	}}})
}
