package translate

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Transformations (Transformation policies) are Envoy's ext_proc filter
// calling gatehouse's transformation service (pkg/transform, behind the
// pkg/extproc dispatcher, processor "transform"). One filter per
// connection manager, after every filter that can refuse a request and
// after the WAF (so a refused request costs no transformation, and the
// WAF and validation see what the client sent), before fault and the
// router: on the response path it runs first, so the client gets the
// transformed response. Each Route names its Transformation (gRPC initial
// metadata, set here, never by the client) or disables the filter.

var anyTransformDisabled = mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}})

// transformMode sends the service only what the Transformation changes:
// a part it does not touch costs no round trip. Bodies are BUFFERED: the
// service transforms whole bodies, and in that mode Envoy holds the
// headers until the body's answer (Envoy: source/extensions/filters/http/
// ext_proc/processor_state.cc, handleHeadersResponse), so the upstream
// (or the client) never sees headers that do not match the body. Past
// Envoy's buffer limit Envoy answers 413 itself. Trailers are sent with a
// body: a body followed by trailers ends without end_of_stream, and the
// service refuses it (pkg/transform errTrailers) rather than forward an
// untransformed or emptied body.
func transformMode(x *policy.Transformation) *extprocv3.ProcessingMode {
	m := &extprocv3.ProcessingMode{
		RequestHeaderMode:   extprocv3.ProcessingMode_SKIP,
		RequestBodyMode:     extprocv3.ProcessingMode_NONE,
		RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
		ResponseHeaderMode:  extprocv3.ProcessingMode_SKIP,
		ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
		ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
	}
	if x == nil {
		return m
	}
	if x.Spec.Request != nil {
		m.RequestHeaderMode = extprocv3.ProcessingMode_SEND
	}
	if x.HasRequestBody() {
		m.RequestBodyMode = extprocv3.ProcessingMode_BUFFERED
		m.RequestTrailerMode = extprocv3.ProcessingMode_SEND
	}
	if x.Spec.Response != nil {
		m.ResponseHeaderMode = extprocv3.ProcessingMode_SEND
	}
	if x.HasResponseBody() {
		m.ResponseBodyMode = extprocv3.ProcessingMode_BUFFERED
		m.ResponseTrailerMode = extprocv3.ProcessingMode_SEND
	}
	return m
}

// transformNamespaces are the dynamic metadata namespaces the service
// reads values from: verified JWT payloads (claim values) and the authz
// service's consumer. Metadata, not headers: a client cannot forge them.
// Envoy sends them with every headers message, request and response
// (source/extensions/filters/http/ext_proc/ext_proc.cc, buildHeaderRequest
// calls addDynamicMetadata), so a response side can read claims too.
var transformNamespaces = []string{wire.JWTMetadataNamespace, wire.ConsumerMetadataNamespace}

// transformConfig is the Gateway's transformation filter. It fails
// closed (failure_mode_allow false): a request the service could not
// reshape is refused (500) rather than handed to an upstream expecting
// the other shape. route_cache_action RETAIN: a header or :path the
// service changes never re-routes the request past the checks of the
// Route it was authorized for (api/envoy/extensions/filters/http/ext_proc/
// v3/ext_proc.proto, RouteCacheAction). The filter's own mode sends
// nothing beyond the headers; every Route either overrides it or
// disables the filter.
func transformConfig(o Options) *anyT {
	return mustAny(&extprocv3.ExternalProcessor{
		GrpcService: &corev3.GrpcService{
			TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: wire.ExtProcCluster}},
			InitialMetadata: []*corev3.HeaderValue{{Key: wire.ProcessorMetadataKey, Value: wire.ProcessorTransform}},
		},
		FailureModeAllow: false,
		ProcessingMode:   transformMode(nil),
		MessageTimeout:   durationpb.New(o.TransformTimeout),
		MetadataOptions: &extprocv3.MetadataOptions{ForwardingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{
			Untyped: transformNamespaces,
		}},
		RouteCacheAction: extprocv3.ExternalProcessor_RETAIN,
		StatPrefix:       "transform",
	})
}

// transformPerRoute runs the Route's Transformation: its name as gRPC
// initial metadata (merged over the filter's by key: ext_proc.cc
// mergeGrpcInitialMetadata) and the processing mode it needs.
func transformPerRoute(name string, x *policy.Transformation) *anyT {
	return mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Overrides{Overrides: &extprocv3.ExtProcOverrides{
		ProcessingMode:      transformMode(x),
		GrpcInitialMetadata: []*corev3.HeaderValue{{Key: wire.TransformMetadataKey, Value: name}},
	}}})
}

// DefaultTransformTimeout bounds one message exchange with the
// transformation service; a 1 MiB JSON body takes a few milliseconds
// (pkg/transform benchmarks), so the bound only covers a busy machine.
const DefaultTransformTimeout = time.Second
