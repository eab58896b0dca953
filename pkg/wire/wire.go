// Package wire holds the names that gatehouse's translator (which writes
// Envoy config) and its gRPC services (ext_authz, rate limit), which read
// what Envoy sends because of that config, must agree on. Changing one
// changes the protocol between gatehouse and every proxy: keep them stable.
package wire

import "strings"

// Clusters Envoy uses to reach gatehouse's own gRPC services.
const (
	AuthzCluster     = "gatehouse/authz"
	RateLimitCluster = "gatehouse/ratelimit"
	// UsageCluster is gatehouse's access-log service (pkg/usage), which a
	// Gateway with accessLog.usage sends every request's entry to, under
	// UsageLogName.
	UsageCluster = "gatehouse/usage"
	UsageLogName = "gatehouse-usage"
	// ExtProcCluster is gatehouse's external processing service (pkg/extproc),
	// which dispatches each stream to a processor (the WAF, ...) by the
	// gRPC initial metadata ProcessorMetadataKey.
	ExtProcCluster = "gatehouse/extproc"
)

// External processing: Envoy's ext_proc filter sends these as gRPC initial
// metadata (grpc_service.initial_metadata, and per route
// ExtProcPerRoute.overrides.grpc_initial_metadata). They are set by the
// translator, never taken from the client's request.
const (
	ProcessorMetadataKey = "x-gatehouse-processor"
	// ProcessorWAF is the web application firewall (pkg/waf).
	ProcessorWAF = "waf"
	// WAFPolicyMetadataKey names the Firewall object a stream runs.
	WAFPolicyMetadataKey = "x-gatehouse-waf-policy"
	// WAFMetadataNamespace is the dynamic metadata namespace of the WAF's
	// decisions (action, policy, rule_ids), which the access log reads.
	WAFMetadataNamespace = "gatehouse.waf"
	// ProcessorTransform is the transformation service (pkg/transform).
	ProcessorTransform = "transform"
	// TransformMetadataKey names the Transformation object a stream runs.
	TransformMetadataKey = "x-gatehouse-transformation"
	// ProcessorOpenAPI validates requests against an OpenAPI document
	// (pkg/openapi).
	ProcessorOpenAPI = "openapi"
	// OpenAPIPolicyMetadataKey names the validation (the document and its
	// modes) a stream runs.
	OpenAPIPolicyMetadataKey = "x-gatehouse-openapi-policy"
	// OpenAPIMetadataNamespace is the dynamic metadata namespace of the
	// validator's decisions (action, policy, location, field).
	OpenAPIMetadataNamespace = "gatehouse.openapi"
	// HeadersOnlyMetadataKey, set to "true" on an upgrade route only
	// (xds/translate upgradeinspect.go), tells the WAF and the validator
	// that Envoy sends no body and no trailers on this stream (an upgraded
	// stream's body never ends): they judge the request when its headers
	// arrive, and refuse a body message if one comes anyway.
	HeadersOnlyMetadataKey = "x-gatehouse-headers-only"
)

// HTTP filter names (the keys of typed_per_filter_config). Two instances of
// ext_authz and of ratelimit exist because their failure mode is filter-wide.
const (
	FilterHeaderMutation = "envoy.filters.http.header_mutation"
	FilterCORS           = "envoy.filters.http.cors"
	FilterLocalRateLimit = "envoy.filters.http.local_ratelimit"
	FilterRBAC           = "envoy.filters.http.rbac"
	// The Gateway's edge protections (xds/translate/ddos.go): its IP
	// allow/deny lists and the per-client request limit.
	FilterEdgeRBAC           = "envoy.filters.http.rbac/edge"
	FilterEdgeLocalRateLimit = "envoy.filters.http.local_ratelimit/edge"
	FilterOAuth2             = "envoy.filters.http.oauth2"
	FilterJWT                = "envoy.filters.http.jwt_authn"
	FilterExtAuthzClosed     = "envoy.filters.http.ext_authz/fail-closed"
	FilterExtAuthzOpen       = "envoy.filters.http.ext_authz/fail-open"
	FilterRateLimitDeny      = "envoy.filters.http.ratelimit/failure-deny"
	FilterRateLimitAllow     = "envoy.filters.http.ratelimit/failure-allow"
	FilterFault              = "envoy.filters.http.fault"
	FilterWAF                = "envoy.filters.http.ext_proc/waf"
	FilterOpenAPI            = "envoy.filters.http.ext_proc/openapi"
	FilterTransform          = "envoy.filters.http.ext_proc/transform"
	FilterCache              = "envoy.filters.http.cache"
	// FilterCompressorBrotli and FilterCompressorGzip are Envoy's
	// compressor filter, one instance per algorithm (compression).
	FilterCompressorBrotli = "envoy.filters.http.compressor/brotli"
	FilterCompressorGzip   = "envoy.filters.http.compressor/gzip"
	// FilterTranscoder is Envoy's gRPC-JSON transcoder (REST to gRPC;
	// xds/translate/transcoder.go).
	FilterTranscoder = "envoy.filters.http.grpc_json_transcoder"
	FilterRouter     = "envoy.filters.http.router"
)

// JWT: verified payloads are written by jwt_authn into dynamic metadata
// under this namespace, one key per provider; the provider name is the
// Authentication object's name. ext_authz forwards this namespace
// (metadata_context_namespaces) so the authz service sees the payloads.
const JWTMetadataNamespace = "envoy.filters.http.jwt_authn"

// Consumer identity: the authz service returns it as a header for the
// upstream and in dynamic metadata for rate-limit descriptors. Envoy's
// ext_authz filter emits dynamic metadata under its canonical name.
const (
	ConsumerHeader            = "x-gatehouse-consumer"
	ConsumerMetadataNamespace = "envoy.filters.http.ext_authz"
	ConsumerMetadataKey       = "consumer"
	DecisionIDMetadataKey     = "decision_id"
	AnonymousConsumer         = "anonymous"
)

// Per-route ext_authz context extensions (CheckSettings.context_extensions):
// they tell the authz service which route a request matched and which
// policies apply, so the service needs no route table of its own.
const (
	CtxGateway        = "gatehouse.gateway"
	CtxRoute          = "gatehouse.route"
	CtxAuthentication = "gatehouse.authentication"  // comma-separated Authentication names ("any one of"); empty: none required
	CtxAuthorization  = "gatehouse.authorization"   // Authorization name; empty: none
	CtxAllowAnonymous = "gatehouse.allow_anonymous" // "true" when the route requires no credential
	// CtxClientIPHeader is "true" on the routes of a Gateway with clientIP:
	// the request's ClientIPHeader, which that Gateway's first filter
	// always overwrites, is the client's address. Envoy fills a
	// CheckRequest's attributes.source from the connection, never from the
	// detected address (source/extensions/filters/common/ext_authz/
	// check_request_utils.cc, setAttrContextPeer), so the service puts it
	// there. Without this entry the header means nothing: a Gateway without
	// clientIP does not strip it.
	CtxClientIPHeader = "gatehouse.client_ip_header"
	// A Route's require block: scopes space-separated (RFC 6749 3.3 scope
	// syntax), claims as a JSON object of string values. Absent: none.
	CtxRequireScopes = "gatehouse.require.scopes"
	CtxRequireClaims = "gatehouse.require.claims"
)

// ClientIPHeader carries the client address Envoy detected (X-Forwarded-For
// hops or a trusted header) from the Gateway's header_mutation filter,
// which sets it from %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% after
// removing a client's copy, to the authz service. The route tables remove
// it before the upstream.
const ClientIPHeader = "x-gatehouse-client-ip"

// Rate-limit descriptors (ENVOY-MAPPING.md). The domain is per Gateway.
// Each limit of a RateLimit is one descriptor whose first entry is
// (DescRateLimit, "<name>#<index>") followed by one entry per key, whose
// entry key is the key kind exactly as written in the policy: "consumer",
// "route", "remote_address", "path", "method", "header:NAME", "claim:NAME".
// Plans use a single entry (DescPlan, <consumer>).
const (
	DomainPrefix  = "gatehouse/" // + gateway name
	DescRateLimit = "ratelimit"
	DescPlan      = "plan"
)

// Entries Envoy writes on its own terms. Envoy's masked_remote_address
// action names its entry "masked_remote_address" whatever the policy key
// (Envoy: source/common/router/router_ratelimit.cc,
// MaskedRemoteAddressAction). A header key whose header the request lacks is
// sent as (key, MissingValue), so that omitting the header does not escape
// the limit. The path key reads RateLimitPathHeader, which the first HTTP
// filter sets to the path without its query string (a client's copy is
// removed first, and the route tables remove it before the upstream).
const (
	DescMaskedRemoteAddress = "masked_remote_address"
	MissingValue            = "missing"
	RateLimitPathHeader     = "x-gatehouse-ratelimit-path"
)

// DescriptorKey is the entry key Envoy sends for a key kind as written in
// the policy: the key itself, except for remote_address (with or without
// its mask option), which Envoy sends as DescMaskedRemoteAddress.
func DescriptorKey(policyKey string) string {
	if policyKey == "remote_address" || strings.HasPrefix(policyKey, "remote_address:") {
		return DescMaskedRemoteAddress
	}
	return policyKey
}

// Domain is the rate-limit domain of a Gateway.
func Domain(gateway string) string { return DomainPrefix + gateway }

// Files of a proxy's client certificate on the proxy's host, when gatehouse's
// gRPC port requires mTLS: `gatehouse bootstrap --tls` names them for the xDS
// connection and `gatehouse serve` for the ext_authz and rate-limit
// clusters, so that both agree unless told otherwise.
const (
	ProxyTLSCertFile = "/etc/gatehouse/tls/proxy.pem"
	ProxyTLSKeyFile  = "/etc/gatehouse/tls/proxy-key.pem"
	ProxyTLSCAFile   = "/etc/gatehouse/tls/ca.pem"
)

// GRPCUpstreamCAProvider is the certificate-provider instance that proxyless
// gRPC clusters with upstream TLS name for their CA (grpc-go does not take
// inline CA bytes); `gatehouse bootstrap --format grpc --upstream-ca-file`
// defines it as a file_watcher.
const GRPCUpstreamCAProvider = "gatehouse-upstream-ca"
