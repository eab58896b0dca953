package translate

import (
	"fmt"
	"sort"
	"strings"

	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	otelalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/open_telemetry/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	otlpcommon "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const otelAccessLogType = "envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig"

// Syntax of an access-log command, as Envoy's CommandSyntaxChecker flags
// it (source/common/formatter/substitution_format_utility.cc).
const (
	cmdNoParams     = iota // COMMAND_ONLY
	cmdParams              // PARAMS_REQUIRED
	cmdParamsMaybe         // PARAMS_OPTIONAL
	cmdLengthOK     = 1 << 4
	cmdSyntaxMask   = cmdLengthOK - 1
	cmdParamsLength = cmdParams | cmdLengthOK
)

// accessLogCommands are the Envoy command operators gatehouse may emit,
// with their syntax, read from Envoy's command tables:
// source/common/formatter/stream_info_formatter.cc
// (getKnownStreamInfoFormatterProviders) and
// source/common/formatter/http_specific_formatter.cc (REQ, RESP,
// TRACE_ID and PATH, the PathFormatter whose NQ option drops the query).
// An unknown command or a wrong syntax makes Envoy refuse the whole
// listener ("Not supported field in StreamInfo"), so Check refuses it
// first. Add a command here only after reading it in those tables.
var accessLogCommands = map[string]int{
	"START_TIME":                             cmdParamsMaybe,
	"ROUTE_NAME":                             cmdNoParams,
	"UPSTREAM_CLUSTER":                       cmdNoParams,
	"UPSTREAM_HOST":                          cmdNoParams,
	"PROTOCOL":                               cmdNoParams,
	"RESPONSE_CODE":                          cmdNoParams,
	"RESPONSE_CODE_DETAILS":                  cmdParamsMaybe,
	"RESPONSE_FLAGS":                         cmdNoParams,
	"DURATION":                               cmdNoParams,
	"REQUEST_DURATION":                       cmdNoParams,
	"RESPONSE_DURATION":                      cmdNoParams,
	"BYTES_RECEIVED":                         cmdNoParams,
	"BYTES_SENT":                             cmdNoParams,
	"DOWNSTREAM_REMOTE_ADDRESS":              cmdNoParams,
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": cmdNoParams,
	"DYNAMIC_METADATA":                       cmdParams,
	"REQ":                                    cmdParamsLength,
	"RESP":                                   cmdParamsLength,
	"TRACE_ID":                               cmdNoParams,
	"PATH":                                   cmdParamsMaybe,
}

// formatCommands parses an Envoy substitution format string and returns
// its commands (name and parameters), or an error for a command Envoy
// would refuse: unknown, with or without parameters against its syntax,
// an unterminated '%'. "%%" is a literal '%'.
func formatCommands(format string) ([][2]string, error) {
	var out [][2]string
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			i++
			continue
		}
		end := strings.IndexByte(format[i+1:], '%')
		if end < 0 {
			return nil, fmt.Errorf("unterminated command at offset %d of %q", i, format)
		}
		tok := format[i+1 : i+1+end]
		i += end + 1
		name, params, hasParams := tok, "", false
		if p := strings.IndexByte(tok, '('); p >= 0 {
			cp := strings.LastIndexByte(tok, ')')
			if cp < p {
				return nil, fmt.Errorf("command %%%s%%: unbalanced parenthesis", tok)
			}
			name, params, hasParams = tok[:p], tok[p+1:cp], true
			rest := tok[cp+1:]
			if rest != "" {
				if accessLogCommands[name]&cmdLengthOK == 0 || !isLength(rest) {
					return nil, fmt.Errorf("command %%%s%%: %q after the parameters (a :LENGTH is allowed only for REQ and RESP)", tok, rest)
				}
			}
		}
		syntax, ok := accessLogCommands[name]
		if !ok {
			return nil, fmt.Errorf("command %%%s%%: %q is not a command gatehouse has checked in Envoy's command tables", tok, name)
		}
		switch syntax & cmdSyntaxMask {
		case cmdNoParams:
			if hasParams {
				return nil, fmt.Errorf("command %%%s%%: %s takes no parameters", tok, name)
			}
		case cmdParams:
			if !hasParams || params == "" {
				return nil, fmt.Errorf("command %%%s%%: %s needs parameters", tok, name)
			}
		}
		out = append(out, [2]string{name, params})
	}
	return out, nil
}

func isLength(s string) bool {
	if len(s) < 2 || s[0] != ':' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// accessLogRules checks what an access logger would make Envoy refuse or
// silently lose: every format command (formatCommands), and the cluster a
// gRPC logger sends to (a missing one fails every export, logged nowhere
// an operator looks).
func (c *checker) accessLogRules(where string, t protoreflect.FullName, a *anypb.Any) {
	var formats []string
	var grpc []string
	switch t {
	case "envoy.extensions.access_loggers.file.v3.FileAccessLog":
		m := &filev3.FileAccessLog{}
		if !c.unmarshal(where, a, m) {
			return
		}
		lf := m.GetLogFormat()
		if s := lf.GetTextFormatSource().GetInlineString(); s != "" {
			formats = append(formats, s)
		}
		formats = append(formats, structFormats(lf.GetJsonFormat())...)
	case "envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig":
		m := &grpcalsv3.HttpGrpcAccessLogConfig{}
		if !c.unmarshal(where, a, m) {
			return
		}
		grpc = grpcCluster(where, m.GetCommonConfig().GetGrpcService(), c)
	case otelAccessLogType:
		m := &otelalsv3.OpenTelemetryAccessLogConfig{}
		if !c.unmarshal(where, a, m) {
			return
		}
		g := m.GetGrpcService()
		if g == nil {
			g = m.GetCommonConfig().GetGrpcService() //nolint:staticcheck // the field gatehouse sets (accesslog.go)
		}
		grpc = grpcCluster(where, g, c)
		formats = append(formats, anyValueFormats(m.GetBody())...)
		for _, kv := range m.GetAttributes().GetValues() {
			formats = append(formats, anyValueFormats(kv.GetValue())...)
		}
	}
	for _, cl := range grpc {
		if !c.clusters[cl] {
			c.fail("%s: cluster %q does not exist", where, cl)
		}
	}
	for _, f := range formats {
		if _, err := formatCommands(f); err != nil {
			c.fail("%s: %v", where, err)
		}
	}
}

// structFormats returns the format strings of a json_format, in key order.
func structFormats(s *structpb.Struct) []string {
	var out []string
	keys := make([]string, 0, len(s.GetFields()))
	for k := range s.GetFields() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := s.GetFields()[k].GetKind().(type) {
		case *structpb.Value_StringValue:
			out = append(out, v.StringValue)
		case *structpb.Value_StructValue:
			out = append(out, structFormats(v.StructValue)...)
		}
	}
	return out
}

func anyValueFormats(v *otlpcommon.AnyValue) []string {
	switch x := v.GetValue().(type) {
	case *otlpcommon.AnyValue_StringValue:
		return []string{x.StringValue}
	case *otlpcommon.AnyValue_KvlistValue:
		var out []string
		for _, kv := range x.KvlistValue.GetValues() {
			out = append(out, anyValueFormats(kv.GetValue())...)
		}
		return out
	case *otlpcommon.AnyValue_ArrayValue:
		var out []string
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, anyValueFormats(e)...)
		}
		return out
	}
	return nil
}

// tracer checks that a connection manager's tracer sends to a cluster that
// exists: spans to a missing one are dropped (counted in a stat no one
// reads) while tracing looks configured.
func (c *checker) tracer(where string, t *hcmv3.HttpConnectionManager_Tracing) {
	p := t.GetProvider()
	if p == nil {
		return
	}
	w := where + " tracer " + p.GetName()
	if c.anyOf(w, p.GetTypedConfig(), pointTracer) == nil {
		return
	}
	var cluster string
	switch {
	case p.GetTypedConfig().MessageIs(&tracev3.OpenTelemetryConfig{}):
		m := &tracev3.OpenTelemetryConfig{}
		if !c.unmarshal(w, p.GetTypedConfig(), m) {
			return
		}
		cl := grpcCluster(w, m.GetGrpcService(), c)
		if len(cl) == 0 {
			return
		}
		cluster = cl[0]
	case p.GetTypedConfig().MessageIs(&tracev3.ZipkinConfig{}):
		m := &tracev3.ZipkinConfig{}
		if !c.unmarshal(w, p.GetTypedConfig(), m) {
			return
		}
		cluster = m.GetCollectorCluster()
	default:
		c.fail("%s: tracer type %s is not one gatehouse emits", w, p.GetTypedConfig().GetTypeUrl())
		return
	}
	if !c.clusters[cluster] {
		c.fail("%s: cluster %q does not exist", w, cluster)
	}
}
