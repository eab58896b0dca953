package policy

import (
	"fmt"
	"strings"
	"testing"
)

// accessLog.usage (usage analytics) is a boolean, misspellings name it.
func TestBadAccessLogUsage(t *testing.T) {
	runBadCases(t, []badCase{
		{"usage not a bool", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  accessLog: {usage: \"yes\"}\n",
			6, "Gateway/g", "spec.accessLog.usage", `expected true or false, got string "yes"`},
		{"usage misspelt", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  accessLog: {usgae: true}\n",
			6, "Gateway/g", "spec.accessLog.usgae", `unknown field "usgae"; allowed: format, openTelemetry, path, successSamplePercent, usage`},
	})
}

// The access-log sinks and sampling: bad values are refused with the
// field, and a sink cannot point at a missing Service or one Envoy would
// reach over HTTP/1.1.
func TestBadAccessLogSinks(t *testing.T) {
	gw := gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  accessLog:\n"
	httpSvc := "---\nkind: Service\nname: plain\nspec:\n  discovery:\n    static: [{address: 10.0.0.1, port: 4317}]\n"
	runBadCases(t, []badCase{
		{"sample above 100", gw + "    successSamplePercent: 100.5\n",
			7, "Gateway/g", "spec.accessLog.successSamplePercent", "100.5 is out of range; 0..100 in steps of 0.0001"},
		{"sample negative", gw + "    successSamplePercent: -1\n",
			7, "Gateway/g", "spec.accessLog.successSamplePercent", "-1 is out of range"},
		{"sample too fine", gw + "    successSamplePercent: 0.00001\n",
			7, "Gateway/g", "spec.accessLog.successSamplePercent", "1e-05 is out of range; 0..100 in steps of 0.0001"},
		{"sample not a number", gw + "    successSamplePercent: ten\n",
			7, "Gateway/g", "spec.accessLog.successSamplePercent", `expected a number, got string "ten"`},
		{"sample nan", gw + "    successSamplePercent: .nan\n",
			7, "Gateway/g", "spec.accessLog.successSamplePercent", ".nan is not a finite number"},
		{"sample inf", gw + "    successSamplePercent: .inf\n",
			7, "Gateway/g", "spec.accessLog.successSamplePercent", ".inf is not a finite number"},
		{"otel without service", gw + "    openTelemetry: {}\n",
			7, "Gateway/g", "spec.accessLog.openTelemetry.service", "required: the Service of the OpenTelemetry collector (protocol GRPC)"},
		{"otel misspelt", gw + "    openTelemetry: {servcie: x}\n",
			7, "Gateway/g", "spec.accessLog.openTelemetry.servcie", `unknown field "servcie"; allowed: service`},
		{"otel unknown service", gw + "    openTelemetry: {service: nowhere}\n",
			7, "Gateway/g", "spec.accessLog.openTelemetry.service", `Service "nowhere" does not exist`},
		{"otel http service", gw + "    openTelemetry: {service: plain}\n" + httpSvc,
			7, "Gateway/g", "spec.accessLog.openTelemetry.service", `Service "plain" has protocol HTTP; a collector is reached over gRPC, so it needs protocol GRPC`},
	})
}

// A Gateway's tracing block: provider, collector Service (and its
// protocol), sampling and tags, each refused with its field.
func TestBadTracing(t *testing.T) {
	gw := gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  tracing:\n"
	grpcSvc := "---\nkind: Service\nname: otel\nspec:\n  protocol: GRPC\n  discovery:\n    static: [{address: 10.0.0.1, port: 4317}]\n"
	httpSvc := "---\nkind: Service\nname: plain\nspec:\n  discovery:\n    static: [{address: 10.0.0.1, port: 4317}]\n"
	runBadCases(t, []badCase{
		{"no provider", gw + "    service: plain\n" + httpSvc,
			6, "Gateway/g", "spec.tracing.provider", "required; one of openTelemetry, zipkin"},
		{"unknown provider", gw + "    provider: jaeger\n    service: plain\n" + httpSvc,
			7, "Gateway/g", "spec.tracing.provider", `"jaeger" is not a tracing provider; one of openTelemetry, zipkin`},
		{"no service", gw + "    provider: zipkin\n",
			6, "Gateway/g", "spec.tracing.service", "required: the Service of the trace collector"},
		{"unknown service", gw + "    provider: zipkin\n    service: nowhere\n",
			8, "Gateway/g", "spec.tracing.service", `Service "nowhere" does not exist`},
		{"otel to an HTTP service", gw + "    provider: openTelemetry\n    service: plain\n" + httpSvc,
			8, "Gateway/g", "spec.tracing.service", `Service "plain" has protocol HTTP; a collector is reached over gRPC, so it needs protocol GRPC`},
		{"zipkin to a gRPC service", gw + "    provider: zipkin\n    service: otel\n" + grpcSvc,
			8, "Gateway/g", "spec.tracing.service", `Service "otel" has protocol GRPC; a Zipkin collector is reached over HTTP, so it needs protocol HTTP`},
		{"sample above 100", gw + "    provider: zipkin\n    service: plain\n    samplePercent: 101\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.samplePercent", "101 is out of range"},
		{"sample below 0", gw + "    provider: zipkin\n    service: plain\n    samplePercent: -0.0001\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.samplePercent", "-0.0001 is out of range"},
		{"sample past 100", gw + "    provider: zipkin\n    service: plain\n    samplePercent: 100.0001\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.samplePercent", "100.0001 is out of range"},
		{"sample too fine", gw + "    provider: zipkin\n    service: plain\n    samplePercent: 50.00001\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.samplePercent", "50.00001 is out of range"},
		{"33 tags", gw + "    provider: zipkin\n    service: plain\n    tags: {" + tracingTags(33) + "}\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.tags", "33 tags; at most 32"},
		{"tag name of 65", gw + "    provider: zipkin\n    service: plain\n    tags: {" + strings.Repeat("n", 65) + ": x}\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.tags." + strings.Repeat("n", 65), "is not a tag name"},
		{"empty tag name", gw + "    provider: zipkin\n    service: plain\n    tags: {\"\": x}\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.tags.", `"" is not a tag name`},
		{"tag value of 257", gw + "    provider: zipkin\n    service: plain\n    tags: {env: " + strings.Repeat("v", 257) + "}\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.tags.env", "value of 257 bytes; at most 256"},
		{"bad tag name", gw + "    provider: zipkin\n    service: plain\n    tags: {\"a b\": x}\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.tags.a b", `"a b" is not a tag name`},
		{"tag not a string", gw + "    provider: zipkin\n    service: plain\n    tags: {env: [a]}\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.tags.env", "expected a string"},
		{"misspelt field", gw + "    provider: zipkin\n    service: plain\n    sampel: 5\n" + httpSvc,
			9, "Gateway/g", "spec.tracing.sampel", `unknown field "sampel"; allowed: provider, samplePercent, service, tags`},
	})
}

// tracingTags is n tags "t00: v, t01: v, ..." for a flow mapping.
func tracingTags(n int) string {
	var tags []string
	for i := 0; i < n; i++ {
		tags = append(tags, fmt.Sprintf("t%02d: v", i))
	}
	return strings.Join(tags, ", ")
}
