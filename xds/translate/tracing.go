package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tracingtypev3 "github.com/envoyproxy/go-control-plane/envoy/type/tracing/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

const (
	tracerOTel         = "envoy.tracers.opentelemetry"
	tracerZipkin       = "envoy.tracers.zipkin"
	otelTracerType     = "envoy.config.trace.v3.OpenTelemetryConfig"
	zipkinTracerType   = "envoy.config.trace.v3.ZipkinConfig"
	zipkinSpansPath    = "/api/v2/spans"
	defaultTraceSample = 100
)

// tracing is a Gateway's HCM tracing config, nil without a tracing block.
// Envoy samples a request without a decision at random_sampling; a
// request that arrives with a sampled trace context is traced and its
// context continued: W3C traceparent with OpenTelemetry (Envoy:
// source/extensions/tracers/opentelemetry/span_context_extractor.cc),
// B3 with Zipkin. The tags are literals: never a request header, so no
// credential reaches a span through them.
func tracing(gw *policy.Gateway) *hcmv3.HttpConnectionManager_Tracing {
	t := gw.Spec.Tracing
	if t == nil {
		return nil
	}
	pct := float64(defaultTraceSample)
	if t.SamplePercent != nil {
		pct = *t.SamplePercent
	}
	out := &hcmv3.HttpConnectionManager_Tracing{RandomSampling: &typev3.Percent{Value: pct}}
	for _, k := range sortedKeys(t.Tags) {
		out.CustomTags = append(out.CustomTags, &tracingtypev3.CustomTag{Tag: k, Type: &tracingtypev3.CustomTag_Literal_{Literal: &tracingtypev3.CustomTag_Literal{Value: t.Tags[k]}}})
	}
	cluster := clusterName(t.Service)
	switch t.Provider {
	case policy.TracingOpenTelemetry:
		out.Provider = &tracev3.Tracing_Http{Name: tracerOTel, ConfigType: &tracev3.Tracing_Http_TypedConfig{TypedConfig: mustAny(&tracev3.OpenTelemetryConfig{
			GrpcService: &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: cluster}}},
			ServiceName: "gatehouse/" + gw.Name,
		})}}
	case policy.TracingZipkin:
		out.Provider = &tracev3.Tracing_Http{Name: tracerZipkin, ConfigType: &tracev3.Tracing_Http_TypedConfig{TypedConfig: mustAny(&tracev3.ZipkinConfig{
			CollectorCluster:         cluster,
			CollectorEndpoint:        zipkinSpansPath,
			CollectorEndpointVersion: tracev3.ZipkinConfig_HTTP_JSON,
		})}}
	}
	return out
}
