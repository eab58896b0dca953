package policy

import "testing"

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
