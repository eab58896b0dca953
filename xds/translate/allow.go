package translate

import (
	"google.golang.org/protobuf/reflect/protoreflect"
)

// extensionPoint names a place where a typed config (Any) may appear.
type extensionPoint string

const (
	pointListenerFilter      extensionPoint = "listener filter"
	pointNetworkFilter       extensionPoint = "network filter"
	pointDownstreamTransport extensionPoint = "downstream transport socket"
	pointUpstreamTransport   extensionPoint = "upstream transport socket"
	pointHTTPFilter          extensionPoint = "HTTP filter"
	pointPerRoute            extensionPoint = "per-route filter config"
	pointAccessLogger        extensionPoint = "access logger"
	pointTracer              extensionPoint = "tracer"
	pointProtocolOptions     extensionPoint = "cluster protocol options"
	pointLBPolicy            extensionPoint = "load balancing policy"
	pointIPDetection         extensionPoint = "original IP detection"
	pointHTTPCache           extensionPoint = "HTTP cache store"
)

// HTTP filter types Check looks into (router order, cluster references).
const (
	routerType         protoreflect.FullName = "envoy.extensions.filters.http.router.v3.Router"
	extAuthzType       protoreflect.FullName = "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"
	rateLimitType      protoreflect.FullName = "envoy.extensions.filters.http.ratelimit.v3.RateLimit"
	jwtAuthnType       protoreflect.FullName = "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
	localRateLimitType protoreflect.FullName = "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
	jwtPerRouteType    protoreflect.FullName = "envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig"
	filterConfigType   protoreflect.FullName = "envoy.config.route.v3.FilterConfig"
	corsType           protoreflect.FullName = "envoy.extensions.filters.http.cors.v3.Cors"
	corsPolicyType     protoreflect.FullName = "envoy.extensions.filters.http.cors.v3.CorsPolicy"
	faultType          protoreflect.FullName = "envoy.extensions.filters.http.fault.v3.HTTPFault"
	cacheType          protoreflect.FullName = "envoy.extensions.filters.http.cache.v3.CacheConfig"
	simpleCacheType    protoreflect.FullName = "envoy.extensions.http.cache.simple_http_cache.v3.SimpleHttpCacheConfig"
	transcoderType     protoreflect.FullName = "envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"
	oauth2Type         protoreflect.FullName = "envoy.extensions.filters.http.oauth2.v3.OAuth2"
	oauth2PerRouteType protoreflect.FullName = "envoy.extensions.filters.http.oauth2.v3.OAuth2PerRoute"
)

// perRouteOf lists, per HTTP filter type, the per-route config types it
// reads (FilterConfig, the generic wrapper, suits every filter): a config
// of another filter's type under its name is a mistake Envoy rejects.
var perRouteOf = map[protoreflect.FullName]map[protoreflect.FullName]bool{
	"envoy.extensions.filters.http.header_mutation.v3.HeaderMutation": {"envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute": true},
	localRateLimitType:                           {localRateLimitType: true},
	"envoy.extensions.filters.http.rbac.v3.RBAC": {"envoy.extensions.filters.http.rbac.v3.RBACPerRoute": true},
	jwtAuthnType:                                 {jwtPerRouteType: true},
	extAuthzType:                                 {"envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute": true},
	rateLimitType:                                {},
	routerType:                                   {},
	corsType:                                     {corsPolicyType: true},
	faultType:                                    {faultType: true},
	transcoderType:                               {transcoderType: true},
	extProcType:                                  {extProcPerRouteType: true},
	cacheType:                                    {}, // no per-route config: FilterConfig disables it
	oauth2Type:                                   {oauth2PerRouteType: true},
	compressorType:                               {compressorPerRouteType: true},
}

// allowed is the explicit allow-list of message types per extension point.
// A type must also be registered (linked into this binary) to pass: the
// imports of the building code make sure of that.
var allowed = map[extensionPoint]map[protoreflect.FullName]bool{
	pointListenerFilter: {
		"envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector":   true,
		"envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol": true,
	},
	pointIPDetection: {
		"envoy.extensions.http.original_ip_detection.custom_header.v3.CustomHeaderConfig": true,
	},
	pointNetworkFilter: {
		"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager": true,
		connectionLimitType: true,
	},
	pointDownstreamTransport: {
		"envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext": true,
	},
	pointUpstreamTransport: {
		"envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext": true,
	},
	pointHTTPFilter: {
		"envoy.extensions.filters.http.header_mutation.v3.HeaderMutation": true,
		localRateLimitType:                           true,
		"envoy.extensions.filters.http.rbac.v3.RBAC": true,
		jwtAuthnType:                                 true,
		extAuthzType:                                 true,
		rateLimitType:                                true,
		routerType:                                   true,
		corsType:                                     true,
		faultType:                                    true,
		transcoderType:                               true,
		extProcType:                                  true,
		cacheType:                                    true,
		oauth2Type:                                   true,
		compressorType:                               true,
	},
	pointCompressorLibrary: {
		gzipCompressorType:   true,
		brotliCompressorType: true,
	},
	pointHTTPCache: {
		simpleCacheType: true,
	},
	pointPerRoute: {
		"envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute": true,
		"envoy.config.route.v3.FilterConfig":                                      true,
		localRateLimitType:                                                        true,
		"envoy.extensions.filters.http.rbac.v3.RBACPerRoute":                      true,
		"envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig":               true,
		"envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute":             true,
		corsPolicyType:         true,
		faultType:              true,
		extProcPerRouteType:    true,
		transcoderType:         true,
		oauth2PerRouteType:     true,
		compressorPerRouteType: true,
	},
	pointAccessLogger: {
		"envoy.extensions.access_loggers.file.v3.FileAccessLog":           true,
		"envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig": true,
		otelAccessLogType: true,
	},
	pointTracer: {
		otelTracerType:   true,
		zipkinTracerType: true,
	},
	pointProtocolOptions: {
		"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": true,
	},
	pointLBPolicy: {
		"envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash":         true,
		"envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin":     true,
		"envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest": true,
	},
}
