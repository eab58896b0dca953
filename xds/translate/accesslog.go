package translate

import (
	"math"
	"sort"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	otelalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/open_telemetry/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	otlpcommon "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

const accessLoggerOTel = "envoy.access_loggers.open_telemetry"

// AccessLogFields is the documented, stable JSON access-log field set
// (docs/access-logs.md): key to Envoy command operator. Keys are only ever
// added, never renamed or dropped, so ELK and Splunk pipelines keep
// working. Every command is one Envoy documents (Check holds every emitted
// format to accessLogCommands). "gateway" is filled in per Gateway.
//
// Nothing here can carry a credential or a query string: the path is
// %PATH(NQ)% (no query: query strings carry API keys and tokens); no
// Authorization, Cookie or API-key header is logged; the consumer and the
// decision id come from the dynamic metadata gatehouse's ext_authz set
// (a client cannot forge them: envoy.filters.http.ext_authz namespace,
// written only by that filter), not from a request header.
var AccessLogFields = map[string]string{
	"timestamp":                "%START_TIME%",
	"request_id":               "%REQ(X-REQUEST-ID)%",
	"trace_id":                 "%TRACE_ID%",
	"gateway":                  "", // the Gateway's name, a literal
	"route":                    "%ROUTE_NAME%",
	"service":                  "%UPSTREAM_CLUSTER%",
	"upstream_host":            "%UPSTREAM_HOST%",
	"method":                   "%REQ(:METHOD)%",
	"path":                     "%PATH(NQ)%",
	"protocol":                 "%PROTOCOL%",
	"authority":                "%REQ(:AUTHORITY)%",
	"status":                   "%RESPONSE_CODE%",
	"response_code_details":    "%RESPONSE_CODE_DETAILS%",
	"response_flags":           "%RESPONSE_FLAGS%",
	"duration_ms":              "%DURATION%",
	"request_duration_ms":      "%REQUEST_DURATION%",
	"response_duration_ms":     "%RESPONSE_DURATION%",
	"upstream_service_time_ms": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
	"bytes_received":           "%BYTES_RECEIVED%",
	"bytes_sent":               "%BYTES_SENT%",
	"consumer":                 "%DYNAMIC_METADATA(" + wire.ConsumerMetadataNamespace + ":" + wire.ConsumerMetadataKey + ")%",
	"decision_id":              "%DYNAMIC_METADATA(" + wire.ConsumerMetadataNamespace + ":" + wire.DecisionIDMetadataKey + ")%",
	// The WAF's decision (pkg/waf), in the namespace only the WAF filter
	// writes (receiving_namespaces), never from a request header.
	"waf_action":   "%DYNAMIC_METADATA(" + wire.WAFMetadataNamespace + ":action)%",
	"waf_rule_ids": "%DYNAMIC_METADATA(" + wire.WAFMetadataNamespace + ":rule_ids)%",
	// Request validation's decision (pkg/openapi), likewise: refuse or
	// log, and where the request did not match the OpenAPI document.
	"openapi_action":      "%DYNAMIC_METADATA(" + wire.OpenAPIMetadataNamespace + ":action)%",
	"openapi_location":    "%DYNAMIC_METADATA(" + wire.OpenAPIMetadataNamespace + ":location)%",
	"openapi_field":       "%DYNAMIC_METADATA(" + wire.OpenAPIMetadataNamespace + ":field)%",
	"ratelimit_limit":     "%RESP(X-RATELIMIT-LIMIT)%",
	"ratelimit_remaining": "%RESP(X-RATELIMIT-REMAINING)%",
	"client_ip":           "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
	"user_agent":          "%REQ(USER-AGENT)%",
}

const accessLogText = "[%START_TIME%] \"%REQ(:METHOD)% %PATH(NQ)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %ROUTE_NAME%\n"

// Runtime keys of the sampling filter. Envoy reads a key's value from its
// runtime and falls back to the default configured here, so an operator
// can change the sampling of one proxy without a policy change (Envoy:
// source/common/access_log/access_log_impl.cc, RuntimeFilter and
// ComparisonFilter).
const (
	runtimeSuccessSample = "access_log.gatehouse.success_sample"
	runtimeErrorStatus   = "access_log.gatehouse.error_status"
)

// accessLogFormat is the Gateway's JSON field set: AccessLogFields with its
// name as the gateway value ('%' escaped, though names cannot hold one).
func accessLogFormat(gw *policy.Gateway) map[string]string {
	out := make(map[string]string, len(AccessLogFields))
	for k, v := range AccessLogFields {
		out[k] = v
	}
	out["gateway"] = strings.ReplaceAll(gw.Name, "%", "%%")
	return out
}

func accessLogs(gw *policy.Gateway) []*accesslogv3.AccessLog {
	al := gw.Spec.AccessLog
	path := defaultAccessLogPath
	format := "json"
	if al != nil {
		if al.Path != "" {
			path = al.Path
		}
		if al.Format != "" {
			format = al.Format
		}
	}
	fields := accessLogFormat(gw)
	fal := &filev3.FileAccessLog{Path: path}
	if format == "text" {
		fal.AccessLogFormat = &filev3.FileAccessLog_LogFormat{LogFormat: &corev3.SubstitutionFormatString{
			Format: &corev3.SubstitutionFormatString_TextFormatSource{TextFormatSource: &corev3.DataSource{
				Specifier: &corev3.DataSource_InlineString{InlineString: accessLogText},
			}},
		}}
	} else {
		js := make(map[string]*structpb.Value, len(fields))
		for k, v := range fields {
			js[k] = structpb.NewStringValue(v)
		}
		fal.AccessLogFormat = &filev3.FileAccessLog_LogFormat{LogFormat: &corev3.SubstitutionFormatString{
			Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: js}},
		}}
	}
	filter := successSampling(al)
	out := []*accesslogv3.AccessLog{{Name: accessLoggerFile, Filter: filter, ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(fal)}}}
	if al != nil && al.OpenTelemetry != nil {
		out = append(out, &accesslogv3.AccessLog{Name: accessLoggerOTel, Filter: filter, ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(otelAccessLog(gw, fields))}})
	}
	if al != nil && al.Usage {
		// Never sampled: usage counts must be exact.
		out = append(out, &accesslogv3.AccessLog{Name: accessLoggerGRPC, ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(usageAccessLog())}})
	}
	return out
}

// otelAccessLog sends the same fields as log-record attributes (sorted, so
// the config is the same every build) to the collector's cluster over
// OTLP/gRPC; the body is the text line. common_config carries the gRPC
// service: it is the one field every Envoy with this logger reads
// (grpc_service, which the API now prefers, is newer).
func otelAccessLog(gw *policy.Gateway, fields map[string]string) *otelalsv3.OpenTelemetryAccessLogConfig {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := &otlpcommon.KeyValueList{Values: make([]*otlpcommon.KeyValue, 0, len(keys))}
	for _, k := range keys {
		attrs.Values = append(attrs.Values, &otlpcommon.KeyValue{Key: k, Value: &otlpcommon.AnyValue{Value: &otlpcommon.AnyValue_StringValue{StringValue: fields[k]}}})
	}
	return &otelalsv3.OpenTelemetryAccessLogConfig{
		//nolint:staticcheck // deprecated in favour of grpc_service, which older Envoys lack
		CommonConfig: &grpcalsv3.CommonGrpcAccessLogConfig{
			LogName:             "gatehouse/" + gw.Name,
			GrpcService:         &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: clusterName(gw.Spec.AccessLog.OpenTelemetry.Service)}}},
			TransportApiVersion: corev3.ApiVersion_V3,
		},
		Body:       &otlpcommon.AnyValue{Value: &otlpcommon.AnyValue_StringValue{StringValue: strings.TrimSuffix(accessLogText, "\n")}},
		Attributes: attrs,
	}
}

// successSampling keeps every request with status >= 400 or a response
// flag (no upstream, rate limited, reset, ...) and SuccessSamplePercent of
// the others; nil when everything is logged. The runtime filter samples on
// the request id (the same requests in every sink: Envoy's RuntimeFilter
// uses x-request-id unless use_independent_randomness is set).
func successSampling(al *policy.AccessLog) *accesslogv3.AccessLogFilter {
	if al == nil || al.SuccessSamplePercent == nil || *al.SuccessSamplePercent >= 100 {
		return nil
	}
	perMillion := uint32(math.Round(*al.SuccessSamplePercent * 10000))
	errs := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_StatusCodeFilter{StatusCodeFilter: &accesslogv3.StatusCodeFilter{
		Comparison: &accesslogv3.ComparisonFilter{Op: accesslogv3.ComparisonFilter_GE, Value: &corev3.RuntimeUInt32{DefaultValue: 400, RuntimeKey: runtimeErrorStatus}},
	}}}
	flagged := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ResponseFlagFilter{ResponseFlagFilter: &accesslogv3.ResponseFlagFilter{}}}
	sampled := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_RuntimeFilter{RuntimeFilter: &accesslogv3.RuntimeFilter{
		RuntimeKey:     runtimeSuccessSample,
		PercentSampled: &typev3.FractionalPercent{Numerator: perMillion, Denominator: typev3.FractionalPercent_MILLION},
	}}}
	return &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_OrFilter{OrFilter: &accesslogv3.OrFilter{
		Filters: []*accesslogv3.AccessLogFilter{errs, flagged, sampled},
	}}}
}
