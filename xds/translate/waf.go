package translate

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// The web application firewall (Firewall policies) is Envoy's ext_proc
// filter calling gatehouse's WAF (pkg/waf, behind the pkg/extproc
// dispatcher on gatehouse's gRPC port). One filter per connection manager;
// each Route says which Firewall it runs (gRPC initial metadata, set here,
// never by the client) or disables the filter.

const (
	extProcType         protoreflect.FullName = "envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor"
	extProcPerRouteType protoreflect.FullName = "envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute"
)

// wafRequestAttributes are the Envoy attributes the WAF reads: the peer
// Envoy saw (not a forwarded-for header a client can write) and the HTTP
// version, which CRS's protocol rules check (pkg/waf clientAddress, attr).
var wafRequestAttributes = []string{"source.address", "request.protocol"}

var anyWAFDisabled = mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}})

// wafMode is what Envoy sends the WAF. Request headers, the whole request
// body and the request trailers, BUFFERED: in that mode Envoy holds the
// headers until the body's answer (Envoy: source/extensions/filters/http/
// ext_proc/processor_state.cc, handleHeadersResponse: "we're not ready to
// continue processing ... let the doData callback handle body chunks until
// the end is reached"), whereas STREAMED continues the chain after the
// headers: the upstream would get the request line and the body chunk by
// chunk before CRS's blocking evaluation (rule 949110, at the end of the
// body) refused it. Trailers are sent because with trailers the body's
// last message is not end_of_stream, and the WAF evaluates the request
// phase when the request ends. Responses, when inspected, the same way,
// so that a leak (RESPONSE-95x) is refused before the client reads it.
// Header modes are explicit: DEFAULT means SEND for response headers.
func wafMode(inspectResponse bool) *extprocv3.ProcessingMode {
	m := &extprocv3.ProcessingMode{
		RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
		RequestBodyMode:     extprocv3.ProcessingMode_BUFFERED,
		RequestTrailerMode:  extprocv3.ProcessingMode_SEND,
		ResponseHeaderMode:  extprocv3.ProcessingMode_SKIP,
		ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
		ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
	}
	if inspectResponse {
		m.ResponseHeaderMode = extprocv3.ProcessingMode_SEND
		m.ResponseBodyMode = extprocv3.ProcessingMode_BUFFERED
		m.ResponseTrailerMode = extprocv3.ProcessingMode_SEND
	}
	return m
}

// wafConfig is the Gateway's ext_proc filter. failure_mode_allow stays
// false: a WAF that cannot be reached or times out refuses the request
// (fail closed). Without a Route's override the stream names no Firewall
// and the WAF refuses it too (pkg/waf: FAILED_PRECONDITION), so a Route
// the translator forgot is closed, not open.
func wafConfig(o Options) *anyT {
	return mustAny(&extprocv3.ExternalProcessor{
		GrpcService: &corev3.GrpcService{
			TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: wire.ExtProcCluster}},
			InitialMetadata: []*corev3.HeaderValue{{Key: wire.ProcessorMetadataKey, Value: wire.ProcessorWAF}},
		},
		FailureModeAllow: false,
		ProcessingMode:   wafMode(false),
		MessageTimeout:   durationpb.New(o.WAFTimeout),
		// Envoy applies the processor's dynamic metadata only in listed
		// namespaces (ext_proc.cc, untyped_receiving_namespaces_): the
		// decision (rule ids) reaches the access log through it.
		MetadataOptions:   &extprocv3.MetadataOptions{ReceivingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{Untyped: []string{wire.WAFMetadataNamespace}}},
		RequestAttributes: wafRequestAttributes,
		StatPrefix:        "waf",
	})
}

// wafPerRoute runs the Route's Firewall: its name as gRPC initial metadata
// (merged over the filter's by key: ext_proc.cc mergeGrpcInitialMetadata)
// and its processing mode.
func wafPerRoute(name string, fw *policy.Firewall) *anyT {
	ov := &extprocv3.ExtProcOverrides{
		ProcessingMode:      wafMode(fw.Spec.InspectResponse),
		GrpcInitialMetadata: []*corev3.HeaderValue{{Key: wire.WAFPolicyMetadataKey, Value: name}},
	}
	// failureMode: allow is the Firewall's explicit choice; the filter
	// itself stays fail-closed (ext_proc.cc FilterConfigPerRoute reads
	// overrides.failure_mode_allow per route).
	if fw.Spec.FailureMode == policy.FailureModeAllow {
		ov.FailureModeAllow = wrapperspb.Bool(true)
	}
	return mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Overrides{Overrides: ov}})
}

// DefaultWAFTimeout bounds one message exchange with the WAF. CRS takes
// tens of milliseconds on a 4 KiB JSON body (docs/security/waf.md,
// p99 161 ms on a busy 2-core machine); past the bound the request is
// refused (fail closed), so the bound is generous.
const DefaultWAFTimeout = time.Second
