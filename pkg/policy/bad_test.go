package policy

import (
	"fmt"
	"strings"
	"testing"
)

const route = "kind: Route\nname: r\nspec:\n" // lines 1-3 of most Route cases

const service = "kind: Service\nname: s\nspec:\n"

const gateway = "kind: Gateway\nname: g\nspec:\n  listeners:\n"

// TestBadInputs: each bad input yields an error naming the exact file, line,
// object and field path, with a message saying what is allowed; the valid
// objects next to it keep loading.
func TestBadInputs(t *testing.T) {
	runBadCases(t, []badCase{
		{"unknown field", route + "  gateways: [gw]\n  backend: [{service: a}]\n",
			5, "Route/r", "spec.backend", `unknown field "backend"; allowed: authentication, authorization, backends, cache, cdn, compression, cors, directResponse, fault, firewall, gateways, grpcTimeout, headers, hosts, idleTimeout, match, mirror, proxyless, rateLimit, redirect, require, retries, rewrite, streamTimeout, streaming, timeout, transcoding, transformation, upgrades, validation, version, websocket`},
		{"unknown top-level field", route + "  gateways: [gw]\n  backends: [{service: a}]\nstatus: {}\n",
			6, "Route/r", "status", `unknown field "status"; allowed: kind, labels, name, spec`},
		{"string for integer", service + "  discovery:\n    static:\n      - {address: 127.0.0.1, port: abc}\n",
			6, "Service/s", "spec.discovery.static[0].port", `expected an integer, got string "abc"`},
		{"float for integer", route + "  gateways: [gw]\n  backends:\n    - {service: a, weight: 1.5}\n",
			6, "Route/r", "spec.backends[0].weight", `expected an integer, got number 1.5`},
		{"string for list", route + "  gateways: gw\n  backends: [{service: a}]\n",
			4, "Route/r", "spec.gateways", `expected a list, got string "gw"`},
		{"list for mapping", "kind: Route\nname: r\nspec: []\n",
			3, "Route/r", "spec", `expected a mapping, got a list`},
		{"string for bool", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    headers:\n      - {name: x-a, present: \"yes\"}\n",
			8, "Route/r", "spec.match.headers[0].present", `expected true or false, got string "yes"`},
		{"duration without unit", route + "  gateways: [gw]\n  backends: [{service: a}]\n  timeout: 5\n",
			6, "Route/r", "spec.timeout", `invalid duration "5"; use a Go duration such as 250ms, 5s or 1m`},
		{"negative duration", route + "  gateways: [gw]\n  backends: [{service: a}]\n  retries: {attempts: 2, perTryTimeout: -1s}\n",
			6, "Route/r", "spec.retries.perTryTimeout", `duration "-1s" is negative`},
		{"duplicate key", route + "  gateways: [gw]\n  backends: [{service: a}]\n  gateways: [gw]\n",
			6, "Route/r", "spec.gateways", `duplicate field "gateways" (first at line 4)`},
		{"unknown kind", "kind: Rout\nname: r\nspec: {}\n",
			1, "bad.yaml", "kind", `unknown kind "Rout"; one of Gateway, Service, Route, Authentication, Authorization, Consumer, Plan, RateLimit`},
		{"missing kind", "name: r\nspec: {}\n",
			1, "bad.yaml", "kind", `required; one of Gateway, Service, Route`},
		{"invalid name", "kind: Route\nname: User_Info\nspec: {gateways: [gw], backends: [{service: a}]}\n",
			2, "bad.yaml", "name", `"User_Info" is not a valid name: it must match [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`},
		{"missing name", "kind: Service\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n",
			1, "bad.yaml", "name", `required`},
		{"duplicate name", "kind: Service\nname: a\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n",
			2, "Service/a", "name", `duplicate Service "a": also defined at base.yaml:7`},
		{"not a mapping document", "- kind: Route\n",
			1, "bad.yaml", "", `expected an object (a mapping with kind, name and spec), got a list`},
		{"yaml syntax error", "kind: Route\nname: r\nspec:\n  gateways: [gw\n  backends: []\n",
			4, "bad.yaml", "", `yaml: did not find expected ',' or ']'`},

		// Proxyless opt-in: never implied by an empty block.
		{"empty route proxyless", route + "  gateways: [gw]\n  backends: [{service: a}]\n  proxyless: {}\n",
			6, "Route/r", "spec.proxyless", `set serveUnprotected: true (serve protected Routes to proxyless gRPC clients without their protections) or false, or omit proxyless`},
		{"unknown route proxyless field", route + "  gateways: [gw]\n  backends: [{service: a}]\n  proxyless: {serveUnprotected: true, allow: true}\n",
			6, "Route/r", "spec.proxyless.allow", `unknown field "allow"; allowed: serveUnprotected`},
		{"empty gateway proxyless", gateway + "    - {name: http, port: 8080, protocol: HTTP}\n  proxyless: {}\n",
			6, "Gateway/g", "spec.proxyless", `set serveUnprotected: true (serve protected Routes to proxyless gRPC clients without their protections) or false, or omit proxyless`},

		// Gateway
		{"port out of range", gateway + "    - {name: http, port: 70000, protocol: HTTP}\n",
			5, "Gateway/g", "spec.listeners[0].port", `70000 is out of range; a port is 1..65535`},
		{"port missing", gateway + "    - {name: http, protocol: HTTP}\n",
			5, "Gateway/g", "spec.listeners[0].port", `0 is out of range; a port is 1..65535`},
		{"bad listener protocol", gateway + "    - {name: tcp, port: 9000, protocol: TCP}\n",
			5, "Gateway/g", "spec.listeners[0].protocol", `"TCP" is not a listener protocol; one of HTTP, HTTPS`},
		{"https without tls", gateway + "    - {name: https, port: 8443, protocol: HTTPS}\n",
			5, "Gateway/g", "spec.listeners[0].tls", `required for an HTTPS listener: certificate and key`},
		{"missing certificate file", gateway + "    - name: https\n      port: 8443\n      protocol: HTTPS\n      tls: {certificate: certs/nope.pem, key: certs/api-key.pem}\n",
			8, "Gateway/g", "spec.listeners[0].tls.certificate", `cannot read certs/nope.pem`},
		{"certificate not a key pair", gateway + "    - name: https\n      port: 8443\n      protocol: HTTPS\n      tls: {certificate: certs/api.pem, key: certs/internal-ca.pem}\n",
			8, "Gateway/g", "spec.listeners[0].tls", `certificate and key do not form a valid PEM key pair`},
		{"http with tls", gateway + "    - name: http\n      port: 8080\n      protocol: HTTP\n      tls: {certificate: certs/api.pem, key: certs/api-key.pem}\n",
			8, "Gateway/g", "spec.listeners[0].tls", `only an HTTPS listener takes tls`},
		{"tls min version", gateway + "    - name: https\n      port: 8443\n      protocol: HTTPS\n      tls: {certificate: certs/api.pem, key: certs/api-key.pem, minVersion: \"1.1\"}\n",
			8, "Gateway/g", "spec.listeners[0].tls.minVersion", `"1.1" is not allowed; one of "1.2", "1.3"`},
		{"duplicate listener name", gateway + "    - {name: web, port: 8080, protocol: HTTP}\n    - {name: web, port: 8081, protocol: HTTP}\n",
			6, "Gateway/g", "spec.listeners[1].name", `duplicate listener name "web" (also spec.listeners[0], line 5)`},
		{"two http listeners on a port", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n    - {name: b, port: 8080, protocol: HTTP, hostnames: [a.example.com]}\n",
			6, "Gateway/g", "spec.listeners[1].port", `port 8080 is already used by HTTP listener "a" (line 5)`},
		{"mixed protocols on a port", gateway + "    - {name: a, port: 8443, protocol: HTTP}\n    - {name: b, port: 8443, protocol: HTTPS, tls: {certificate: certs/api.pem, key: certs/api-key.pem}}\n",
			6, "Gateway/g", "spec.listeners[1].port", `a port serves one protocol`},
		{"overlapping https hostnames", gateway +
			"    - {name: a, port: 8443, protocol: HTTPS, hostnames: [\"*.example.com\"], tls: {certificate: certs/api.pem, key: certs/api-key.pem}}\n" +
			"    - {name: b, port: 8443, protocol: HTTPS, hostnames: [api.example.com], tls: {certificate: certs/api.pem, key: certs/api-key.pem}}\n",
			6, "Gateway/g", "spec.listeners[1].port", `hostnames overlap (*.example.com and api.example.com)`},
		{"https any overlaps", gateway +
			"    - {name: a, port: 8443, protocol: HTTPS, tls: {certificate: certs/api.pem, key: certs/api-key.pem}}\n" +
			"    - {name: b, port: 8443, protocol: HTTPS, hostnames: [api.example.com], tls: {certificate: certs/api.pem, key: certs/api-key.pem}}\n",
			6, "Gateway/g", "spec.listeners[1].port", `hostnames overlap (any and api.example.com)`},
		{"invalid hostname", gateway + "    - {name: a, port: 8080, protocol: HTTP, hostnames: [Bad_Host]}\n",
			5, "Gateway/g", "spec.listeners[0].hostnames[0]", `"Bad_Host" is not a valid hostname; use a lowercase DNS name`},
		{"header limit", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  limits: {maxRequestHeadersKB: 9000}\n",
			6, "Gateway/g", "spec.limits.maxRequestHeadersKB", `9000 is out of range; 1..8192`},
		{"zero timeout", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  limits:\n    requestTimeout: 0s\n",
			7, "Gateway/g", "spec.limits.requestTimeout", `must be greater than 0`},
		{"access log format", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  accessLog: {format: xml}\n",
			6, "Gateway/g", "spec.accessLog.format", `"xml" is not an access log format; one of json, text`},
		{"zone with a space", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  zone: us east\n",
			6, "Gateway/g", "spec.zone", `"us east" is not a zone name: 1-128 letters, digits`},
		{"empty zone", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  zone: \"\"\n",
			6, "Gateway/g", "spec.zone", `"" is not a zone name`},
		{"gateway default authentication missing", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  defaults:\n    authentication: [corp-jwt]\n",
			7, "Gateway/g", "spec.defaults.authentication[0]", `Authentication "corp-jwt" does not exist`},

		{"segments on exact", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    path: {exact: /a, segments: true}\n",
			7, "Route/r", "spec.match.path.segments", `only applies to prefix; exact and regex already say where the path ends`},
		{"segments without prefix", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    path:\n      segments: true\n",
			8, "Route/r", "spec.match.path.segments", `needs a prefix, e.g. {prefix: /api, segments: true}`},
		{"segments false", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    path: {prefix: /a, segments: false}\n",
			7, "Route/r", "spec.match.path.segments", `only true is allowed; omit segments for a plain string prefix`},
		{"segments trailing slash", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    path: {prefix: /public/, segments: true}\n",
			7, "Route/r", "spec.match.path.prefix", `"/public/" must not end with / with segments: true; write /public, which matches /public, /public/ and /public/...`},
		{"segments query", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    path: {prefix: \"/a?b\", segments: true}\n",
			7, "Route/r", "spec.match.path.prefix", `"/a?b" must not contain ? or # with segments: true`},

		// Service
		{"service protocol", service + "  protocol: TCP\n  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n",
			4, "Service/s", "spec.protocol", `"TCP" is not a service protocol; one of HTTP, HTTP2, GRPC`},
		{"no discovery", service + "  protocol: HTTP\n",
			3, "Service/s", "spec.discovery", `set exactly one of consul, dns, eureka, kubernetes, static`},
		{"both discoveries", service + "  discovery:\n    consul: {service: x}\n    static: [{address: 127.0.0.1, port: 1}]\n",
			4, "Service/s", "spec.discovery", `set exactly one of consul, dns, eureka, kubernetes, static`},
		{"consul without service", service + "  discovery:\n    consul: {tags: [v1]}\n",
			5, "Service/s", "spec.discovery.consul.service", `required: the Consul service name`},
		{"empty static", service + "  discovery:\n    static: []\n",
			5, "Service/s", "spec.discovery.static", `list at least one endpoint`},
		{"endpoint weight zero", service + "  discovery:\n    static:\n      - {address: 127.0.0.1, port: 1, weight: 0}\n",
			6, "Service/s", "spec.discovery.static[0].weight", `0 is out of range; an endpoint weight is 1..128`},
		{"endpoint weight too big", service + "  discovery:\n    static:\n      - {address: 127.0.0.1, port: 1}\n      - {address: 127.0.0.1, port: 2, weight: 200}\n",
			7, "Service/s", "spec.discovery.static[1].weight", `200 is out of range`},
		{"endpoint address", service + "  discovery:\n    static:\n      - {address: \"not an address\", port: 1}\n",
			6, "Service/s", "spec.discovery.static[0].address", `static endpoint addresses must be IP addresses (without a zone); "not an address" is not one`},
		{"endpoint DNS name", service + "  discovery:\n    static:\n      - {address: 10.0.0.1, port: 1}\n      - {address: Backend.Internal, port: 1}\n",
			7, "Service/s", "spec.discovery.static[1].address", `static endpoint addresses must be IP addresses; "Backend.Internal" is a DNS name, which Envoy's EDS does not resolve: give its IP address, or use dns discovery`},
		{"endpoint IPv6 zone", service + "  discovery:\n    static:\n      - {address: \"fe80::1%eth0\", port: 1}\n",
			6, "Service/s", "spec.discovery.static[0].address", `static endpoint addresses must be IP addresses (without a zone); "fe80::1%eth0" is not one`},
		{"endpoint IPv4 leading zero", service + "  discovery:\n    static:\n      - {address: 10.0.0.010, port: 1}\n",
			6, "Service/s", "spec.discovery.static[0].address", `"10.0.0.010" is not one`},
		{"lb policy", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  loadBalancer: {policy: FASTEST}\n",
			5, "Service/s", "spec.loadBalancer.policy", `"FASTEST" is not a load-balancing policy; one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV`},
		{"hashOn without hashing policy", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  loadBalancer:\n    hashOn: {header: x-user}\n",
			6, "Service/s", "spec.loadBalancer.hashOn", `only allowed with policy RING_HASH or MAGLEV`},
		{"hashOn two keys", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  loadBalancer:\n    policy: MAGLEV\n    hashOn: {header: x-user, cookie: sid}\n",
			7, "Service/s", "spec.loadBalancer.hashOn", `set exactly one of header, cookie, sourceIP: true`},
		{"connect timeout zero", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  connectTimeout: 0s\n",
			5, "Service/s", "spec.connectTimeout", `must be greater than 0`},
		{"missing ca file", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  tls: {caFile: ../ca.pem}\n",
			5, "Service/s", "spec.tls.caFile", `"../ca.pem" points outside the policy directory`},
		{"tls verifying nothing", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  tls: {}\n",
			5, "Service/s", "spec.tls", `verifies nothing: set sni (the DNS name the upstream's certificate must carry, checked against the system CA bundle) and/or caFile`},
		{"tls null", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  tls:\n",
			5, "Service/s", "spec.tls", `empty: set sni`},
		{"max ejection percent", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  outlierDetection: {maxEjectionPercent: 150}\n",
			5, "Service/s", "spec.outlierDetection.maxEjectionPercent", `150 is out of range; 0..100`},
		{"circuit breaker zero", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  circuitBreaker:\n    maxRequests: 0\n",
			6, "Service/s", "spec.circuitBreaker.maxRequests", `0 is out of range; 1..4294967295`},
		{"health check two kinds", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  healthCheck:\n    http: {path: /healthz}\n    tcp: {}\n    interval: 5s\n    timeout: 1s\n",
			5, "Service/s", "spec.healthCheck", `set exactly one of http, grpc, tcp`},
		{"health check path", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  healthCheck:\n    http: {path: healthz}\n    interval: 5s\n    timeout: 1s\n",
			6, "Service/s", "spec.healthCheck.http.path", `"healthz" must start with /`},
		{"health check threshold", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  healthCheck:\n    tcp:\n    interval: 5s\n    timeout: 1s\n    healthyThreshold: 0\n",
			9, "Service/s", "spec.healthCheck.healthyThreshold", `0 is out of range; 1..`},
		{"health check needs interval", service + "  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  healthCheck:\n    tcp: {}\n    timeout: 1s\n",
			5, "Service/s", "spec.healthCheck.interval", `required and must be greater than 0`},

		// Route
		{"no gateways", route + "  backends: [{service: a}]\n",
			3, "Route/r", "spec.gateways", `required: list at least one Gateway`},
		{"missing gateway", route + "  gateways: [gw, nope]\n  backends: [{service: a}]\n",
			4, "Route/r", "spec.gateways[1]", `Gateway "nope" does not exist`},
		{"missing service", route + "  gateways: [gw]\n  backends:\n    - {service: a}\n    - {service: nope}\n",
			7, "Route/r", "spec.backends[1].service", `Service "nope" does not exist`},
		{"rejected service", "kind: Service\nname: c\nspec: {protocol: FTP, discovery: {static: [{address: 127.0.0.1, port: 1}]}}\n---\n" +
			route + "  gateways: [gw]\n  backends: [{service: c}]\n",
			9, "Route/r", "spec.backends[0].service", `Service "c" was rejected (see its errors)`},
		{"invalid route host", route + "  gateways: [gw]\n  hosts: [\"*.\"]\n  backends: [{service: a}]\n",
			5, "Route/r", "spec.hosts[0]", `"*." is not a valid host`},
		{"two path matchers", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    path: {prefix: /a, exact: /b}\n",
			7, "Route/r", "spec.match.path", `set exactly one of prefix, exact, regex`},
		{"prefix without slash", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    path: {prefix: user}\n",
			7, "Route/r", "spec.match.path.prefix", `"user" must start with /`},
		{"regex does not compile", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    path: {regex: \"/users/(\"}\n",
			7, "Route/r", "spec.match.path.regex", "invalid RE2 regular expression: error parsing regexp: missing closing )"},
		{"regex not RE2", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    headers:\n      - {name: x-a, regex: \"a(?=b)\"}\n",
			8, "Route/r", "spec.match.headers[0].regex", "invalid or unsupported Perl syntax"},
		{"bad method", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match: {methods: [GET, FETCH]}\n",
			6, "Route/r", "spec.match.methods[1]", `"FETCH" is not an HTTP method; one of GET, HEAD, POST`},
		{"header match two values", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    headers:\n      - {name: x-a, exact: \"1\", present: true}\n",
			8, "Route/r", "spec.match.headers[0]", `set exactly one of exact, prefix, regex, present: true`},
		{"query match without name", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    query:\n      - {exact: \"1\"}\n",
			8, "Route/r", "spec.match.query[0].name", `required`},
		{"no backends", route + "  gateways: [gw]\n",
			3, "Route/r", "spec.backends", `required: list at least one backend`},
		{"backend weight", route + "  gateways: [gw]\n  backends:\n    - {service: a, weight: 1001}\n",
			6, "Route/r", "spec.backends[0].weight", `1001 is out of range; 0..1000`},
		{"weights sum to zero", route + "  gateways: [gw]\n  backends:\n    - {service: a, weight: 0}\n    - {service: b, weight: 0}\n",
			5, "Route/r", "spec.backends", `the weights add up to 0`},
		{"duplicate backend", route + "  gateways: [gw]\n  backends:\n    - {service: a}\n    - {service: a}\n",
			7, "Route/r", "spec.backends[1].service", `Service "a" is already a backend (spec.backends[0])`},
		{"retry attempts", route + "  gateways: [gw]\n  backends: [{service: a}]\n  retries: {attempts: 11}\n",
			6, "Route/r", "spec.retries.attempts", `11 is out of range; 1..10`},
		{"retry on", route + "  gateways: [gw]\n  backends: [{service: a}]\n  retries:\n    attempts: 2\n    on: [5xx, timeout]\n",
			8, "Route/r", "spec.retries.on[1]", `"timeout" is not a retry condition; one of 5xx, gateway-error`},
		{"rewrite both", route + "  gateways: [gw]\n  backends: [{service: a}]\n  rewrite: {prefix: /, regex: {pattern: a, substitution: b}}\n",
			6, "Route/r", "spec.rewrite", `set at most one of prefix, regex`},
		{"set pseudo header", route + "  gateways: [gw]\n  backends: [{service: a}]\n  headers:\n    request:\n      set: {\":path\": /x}\n",
			8, "Route/r", "spec.headers.request.set.:path", `":path" is a pseudo-header`},
		{"set host header", route + "  gateways: [gw]\n  backends: [{service: a}]\n  headers:\n    request:\n      set: {Host: x}\n",
			8, "Route/r", "spec.headers.request.set.Host", `the host header cannot be changed here; use rewrite.host`},
		{"bad header name", route + "  gateways: [gw]\n  backends: [{service: a}]\n  headers:\n    response:\n      remove: [\"x a\"]\n",
			8, "Route/r", "spec.headers.response.remove[0]", `"x a" is not a valid HTTP header name`},
		{"route authentication missing", route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [corp-jwt]\n",
			6, "Route/r", "spec.authentication[0]", `Authentication "corp-jwt" does not exist`},
		{"route rate limit missing", route + "  gateways: [gw]\n  backends: [{service: a}]\n  rateLimit: per-consumer\n",
			6, "Route/r", "spec.rateLimit", `RateLimit "per-consumer" does not exist`},
		{"hashOn conflict", "kind: Service\nname: h1\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 1}]}\n  loadBalancer: {policy: RING_HASH, hashOn: {header: x-a}}\n---\n" +
			"kind: Service\nname: h2\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 2}]}\n  loadBalancer: {policy: MAGLEV, hashOn: {cookie: sid}}\n---\n" +
			route + "  gateways: [gw]\n  backends:\n    - {service: h1}\n    - {service: a}\n    - {service: h2}\n",
			20, "Route/r", "spec.backends[2].service", `Service "h2" hashes on cookie sid but Service "h1" hashes on header x-a; backends of one Route must agree on hashOn`},
	})
}

type badCase struct {
	name string
	yaml string
	line int
	ref  string
	path string // "" for errors not about a field
	msg  string
}

func runBadCases(t *testing.T, cases []badCase) {
	t.Helper()
	refuseDuplicateNames(t, len(cases), func(i int) string { return cases[i].name })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Load(testFS(t, map[string]string{"bad.yaml": tc.yaml}), nil)
			prefix := fmt.Sprintf("bad.yaml:%d: %s: ", tc.line, tc.ref)
			if tc.path != "" {
				prefix += tc.path + ": "
			}
			if _, ok := findErr(s, prefix, tc.msg); !ok {
				t.Errorf("no error %q + %q; got:\n%s", prefix, tc.msg, strings.Join(s.Errors(), "\n"))
			}
			// Nothing from the bad file is served, and the base keeps working
			// (except where the case deliberately redefines a base object).
			if _, ok := s.Routes["r"]; ok {
				t.Errorf("Route r is served despite errors")
			}
			if kind, name, ok := strings.Cut(tc.ref, "/"); ok && s.get(kind, name) != nil {
				t.Errorf("%s is served despite errors", tc.ref)
			}
			if s.Gateways["gw"] == nil || s.Services["b"] == nil || (s.Services["a"] == nil && tc.name != "duplicate name") {
				t.Errorf("base objects lost: gateways %v services %v", keys(s.Gateways), keys(s.Services))
			}
			for _, e := range s.Errors() {
				if strings.HasPrefix(e, "base.yaml") && tc.name != "duplicate name" {
					t.Errorf("error in base: %s", e)
				}
			}
		})
	}
}

func keys[V any](m map[string]V) []string { return sortedKeys(m) }
