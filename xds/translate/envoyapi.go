package translate

import (
	"sync"

	udpaannotations "github.com/cncf/xds/go/udpa/annotations"
	xdsannotations "github.com/cncf/xds/go/xds/annotations/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Envoy ships only part of its API: elements commented
// [#not-implemented-hide:] exist for other xDS clients (gRPC) or future
// work and are ignored or rejected by Envoy, and elements annotated
// work_in_progress may change or go. Check refuses any of them set in an
// Envoy group, anywhere in a resource (typed configs included), so a field
// Envoy would silently ignore (a CA it never loads, say) cannot ship.
//
// Two sources, both from the pinned API: envoyapi_gen.go (generated from
// the API comments of every .pb.go file of the module) and the udpa/xds
// status annotations, read from the descriptors linked into the binary.

// unshippedExceptions are the deliberate uses of something Envoy marks as
// not stable, each with its reason. Check accepts exactly these.
var unshippedExceptions = map[string]string{
	// Alpha in Envoy's source/extensions/extensions_metadata.yaml. It is
	// the only filter that can remove client-sent headers before jwt_authn
	// and ext_authz run: route and virtual host request_headers_to_remove
	// are applied by the router (source/common/router/config_impl.cc,
	// finalizeRequestHeaders), after ext_authz has set x-gatehouse-consumer
	// (ENVOY-MAPPING.md, filter 1).
	"envoy.extensions.filters.http.header_mutation.v3.HeaderMutation":         "removes spoofable identity headers before the auth filters run; no stable filter can",
	"envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute": "per-route part of the header_mutation exception",
	// Alpha in extensions_metadata.yaml; in the Envoy bootstrap only (a
	// resource monitor cannot appear in an xDS resource). Envoy's edge
	// best practices configure it to shrink the heap and stop accepting
	// requests under memory pressure
	// (docs/root/configuration/best_practices/_include/edge.yaml, included
	// by edge.rst); no stable resource monitor bounds memory (cgroup_memory
	// is alpha too, global_downstream_max_connections bounds connections).
	"envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig": "bootstrap: the memory bound of Envoy's edge best practices; no stable monitor replaces it",
	// wip in extensions_metadata.yaml (envoy.tracers.opentelemetry), yet the
	// only Envoy tracer that speaks OTLP and propagates W3C trace context
	// (traceparent/tracestate), which the issue asks for and which
	// gatehouse's own services continue. Opt-in per Gateway (tracing:
	// {provider: openTelemetry}); zipkin (stable, B3) is the alternative.
	otelTracerType: "OTLP export and W3C trace-context propagation; no stable tracer has them (zipkin, stable, is offered too)",
	// wip (security posture unknown) in extensions_metadata.yaml, filter
	// and store alike, yet Envoy's only HTTP cache, which the issue asks
	// for. Opt-in per Route or Gateway (cache:); what gatehouse relies on
	// is read in Envoy's cache source and held by Check (cache.go,
	// checkcache.go): placed after every filter that can refuse, keyed per
	// consumer on Routes that call ext_authz, never storing a cookie.
	string(cacheType):       "response caching (cache:, opt-in); Envoy has no stable HTTP cache",
	string(simpleCacheType): "the in-memory store of the cache exception; the only other store (file system) is wip too",
}

// extensionStatus is the status Envoy gives each extension whose config
// type gatehouse emits (source/extensions/extensions_metadata.yaml of
// envoyproxy/envoy; the Go module carries no such status). Core API types
// that are not extensions are "core". A typed config of a type not listed
// here fails Check: adding one means reading its status first.
var extensionStatus = map[protoreflect.FullName]string{
	"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager": "stable", // envoy.filters.network.http_connection_manager
	"envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector":                   "stable", // envoy.filters.listener.tls_inspector
	connectionLimitType: "stable", // envoy.filters.network.connection_limit
	"envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol":               "stable", // envoy.filters.listener.proxy_protocol
	"envoy.extensions.http.original_ip_detection.custom_header.v3.CustomHeaderConfig": "stable", // envoy.http.original_ip_detection.custom_header
	"envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext":                  "stable", // envoy.transport_sockets.tls
	"envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext":                    "stable", // envoy.transport_sockets.tls
	"envoy.extensions.filters.http.header_mutation.v3.HeaderMutation":                 "alpha",  // envoy.filters.http.header_mutation
	"envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute":         "alpha",  // envoy.filters.http.header_mutation
	localRateLimitType:                                   "stable", // envoy.filters.http.local_ratelimit
	"envoy.extensions.filters.http.rbac.v3.RBAC":         "stable", // envoy.filters.http.rbac
	"envoy.extensions.filters.http.rbac.v3.RBACPerRoute": "stable", // envoy.filters.http.rbac
	jwtAuthnType:    "stable", // envoy.filters.http.jwt_authn
	jwtPerRouteType: "stable", // envoy.filters.http.jwt_authn
	extAuthzType:    "stable", // envoy.filters.http.ext_authz
	"envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute": "stable", // envoy.filters.http.ext_authz
	rateLimitType: "stable", // envoy.filters.http.ratelimit
	"envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute": "stable", // envoy.filters.http.ratelimit
	routerType:     "stable", // envoy.filters.http.router
	corsType:       "stable", // envoy.filters.http.cors
	corsPolicyType: "stable", // envoy.filters.http.cors
	faultType:      "stable", // envoy.filters.http.fault
	transcoderType: "stable", // envoy.filters.http.grpc_json_transcoder (robust_to_untrusted_downstream)
	// envoy.filters.http.ext_proc: stable downstream (status_upstream is
	// alpha; gatehouse uses it downstream only).
	extProcType:         "stable",
	extProcPerRouteType: "stable",
	"envoy.extensions.access_loggers.file.v3.FileAccessLog":           "stable", // envoy.access_loggers.file
	"envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig": "stable", // envoy.access_loggers.http_grpc
	otelAccessLogType: "stable", // envoy.access_loggers.open_telemetry
	zipkinTracerType:  "stable", // envoy.tracers.zipkin
	otelTracerType:    "wip",    // envoy.tracers.opentelemetry
	cacheType:         "wip",    // envoy.filters.http.cache
	// envoy.filters.http.oauth2: stable, robust_to_untrusted_downstream;
	// its type_urls list OAuth2 only, the per-route config is the same
	// extension's.
	oauth2Type:         "stable",
	oauth2PerRouteType: "stable",
	simpleCacheType:    "wip", // envoy.extensions.http.cache.simple
	// robust_to_untrusted_downstream, all three.
	compressorType:         "stable", // envoy.filters.http.compressor
	compressorPerRouteType: "stable", // envoy.filters.http.compressor
	gzipCompressorType:     "stable", // envoy.compression.gzip.compressor
	brotliCompressorType:   "stable", // envoy.compression.brotli.compressor
	"envoy.extensions.upstreams.http.v3.HttpProtocolOptions":                 "stable", // envoy.upstreams.http.http_protocol_options
	"envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash":         "stable", // envoy.load_balancing_policies.ring_hash
	"envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin":     "stable", // envoy.load_balancing_policies.round_robin
	"envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest": "stable", // envoy.load_balancing_policies.least_request
	filterConfigType: "core", // route API's per-filter wrapper, not an extension
	// Bootstrap only (package envoy): resource monitors of the overload manager.
	"envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig":                         "alpha",  // envoy.resource_monitors.fixed_heap
	"envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig": "stable", // envoy.resource_monitors.global_downstream_max_connections
}

// apiStatus is what Check needs to know about one message type.
type apiStatus struct {
	// why is set when the message itself is not shipped.
	why string
	// fields maps field numbers of unshipped fields to why.
	fields map[protoreflect.FieldNumber]string
	// enums maps enum field numbers to their unshipped values.
	enums map[protoreflect.FieldNumber]map[protoreflect.EnumNumber]string
	// visit is false when no value of this type can hold anything to
	// report: no unshipped element and no Any anywhere below it.
	visit bool
	// look lists the fields worth looking at: unshipped, with unshipped
	// enum values, or holding messages to visit.
	look []lookField
	// md is the message type; lookAt maps a field number to 1 + its index
	// in look (0: not looked at), for the walk over an encoding
	// (envoyapiwire.go).
	md     protoreflect.MessageDescriptor
	lookAt map[protoreflect.FieldNumber]int
}

// lookField is one field worth looking at, with what walk needs resolved
// once (walk runs over every route of every table).
type lookField struct {
	fd    protoreflect.FieldDescriptor
	why   string                             // set: the field is unshipped
	enums map[protoreflect.EnumNumber]string // unshipped enum values
	sub   *apiStatus                         // the message (or map value) to visit, if any
}

var (
	apiStatusOnce sync.Once
	// apiStatuses is keyed by descriptor (one per linked type, compared
	// by pointer: cheaper than hashing full names on every message).
	apiStatuses map[protoreflect.MessageDescriptor]*apiStatus
)

// statusOf returns the status of a message type (nil: nothing to report).
func statusOf(md protoreflect.MessageDescriptor) *apiStatus {
	apiStatusOnce.Do(buildAPIStatus)
	return apiStatuses[md]
}

const (
	anyName          protoreflect.FullName = "google.protobuf.Any"
	regexMatcherName protoreflect.FullName = "envoy.type.matcher.v3.RegexMatcher"
	cidrRangeName    protoreflect.FullName = "envoy.config.core.v3.CidrRange"
)

// buildAPIStatus computes every linked message type's status, then which
// types can reach an unshipped element or an Any (a fixed point: the
// message graph has cycles).
func buildAPIStatus() {
	all := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	var add func(md protoreflect.MessageDescriptor)
	add = func(md protoreflect.MessageDescriptor) {
		if _, ok := all[md.FullName()]; ok {
			return
		}
		all[md.FullName()] = md
		fs := md.Fields()
		for i := 0; i < fs.Len(); i++ {
			if sub := fs.Get(i).Message(); sub != nil {
				add(sub)
			}
		}
	}
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		add(mt.Descriptor())
		return true
	})
	st := make(map[protoreflect.FullName]*apiStatus, len(all))
	for name, md := range all {
		st[name] = localStatus(md)
	}
	for changed := true; changed; {
		changed = false
		for name, md := range all {
			s := st[name]
			if s.visit {
				continue
			}
			fs := md.Fields()
			for i := 0; i < fs.Len(); i++ {
				if sub := fs.Get(i).Message(); sub != nil && st[sub.FullName()].visit {
					s.visit, changed = true, true
					break
				}
			}
		}
	}
	for name, md := range all {
		s := st[name]
		fs := md.Fields()
		for i := 0; i < fs.Len(); i++ {
			fd := fs.Get(i)
			sub := fd.Message()
			if fd.IsMap() {
				sub = fd.MapValue().Message()
			}
			lf := lookField{fd: fd, why: s.fields[fd.Number()], enums: s.enums[fd.Number()]}
			if sub != nil && st[sub.FullName()].visit {
				lf.sub = st[sub.FullName()]
			}
			if lf.why != "" || lf.enums != nil || lf.sub != nil {
				s.look = append(s.look, lf)
			}
		}
	}
	for name, md := range all {
		s := st[name]
		s.md = md
		if len(s.look) > 0 {
			s.lookAt = make(map[protoreflect.FieldNumber]int, len(s.look))
			for i := range s.look {
				s.lookAt[s.look[i].fd.Number()] = i + 1
			}
		}
	}
	apiStatuses = make(map[protoreflect.MessageDescriptor]*apiStatus, len(all))
	for name, md := range all {
		apiStatuses[md] = st[name]
	}
}

// localStatus reads one message type's own marks: the generated table and
// the work_in_progress annotations of its file, itself and its fields.
func localStatus(md protoreflect.MessageDescriptor) *apiStatus {
	s := &apiStatus{why: envoyUnshippedMessages[string(md.FullName())]}
	if s.why == "" && (fileWIP(md.ParentFile()) || messageWIP(md)) {
		s.why = "work in progress"
	}
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		why := envoyUnshippedFields[string(fd.FullName())]
		if why == "" && fieldWIP(fd) {
			why = "work in progress"
		}
		if why != "" {
			if s.fields == nil {
				s.fields = map[protoreflect.FieldNumber]string{}
			}
			s.fields[fd.Number()] = why
		}
		if ed := fd.Enum(); ed != nil {
			vs := ed.Values()
			for j := 0; j < vs.Len(); j++ {
				if why := envoyUnshippedEnumValues[string(vs.Get(j).FullName())]; why != "" {
					if s.enums == nil {
						s.enums = map[protoreflect.FieldNumber]map[protoreflect.EnumNumber]string{}
					}
					if s.enums[fd.Number()] == nil {
						s.enums[fd.Number()] = map[protoreflect.EnumNumber]string{}
					}
					s.enums[fd.Number()][vs.Get(j).Number()] = why
				}
			}
		}
	}
	// Every RegexMatcher and CidrRange is visited too, wherever it is:
	// Envoy compiles or parses them at load time (checkrules.go).
	switch md.FullName() {
	case anyName, regexMatcherName, cidrRangeName:
		s.visit = true
	default:
		s.visit = s.why != "" || s.fields != nil || s.enums != nil
	}
	return s
}

func fileWIP(fd protoreflect.FileDescriptor) bool {
	o, ok := fd.Options().(*descriptorpb.FileOptions)
	if !ok || o == nil {
		return false
	}
	u, _ := proto.GetExtension(o, udpaannotations.E_FileStatus).(*udpaannotations.StatusAnnotation)
	x, _ := proto.GetExtension(o, xdsannotations.E_FileStatus).(*xdsannotations.FileStatusAnnotation)
	return u.GetWorkInProgress() || x.GetWorkInProgress()
}

func messageWIP(md protoreflect.MessageDescriptor) bool {
	o, ok := md.Options().(*descriptorpb.MessageOptions)
	if !ok || o == nil {
		return false
	}
	x, _ := proto.GetExtension(o, xdsannotations.E_MessageStatus).(*xdsannotations.MessageStatusAnnotation)
	return x.GetWorkInProgress()
}

func fieldWIP(fd protoreflect.FieldDescriptor) bool {
	o, ok := fd.Options().(*descriptorpb.FieldOptions)
	if !ok || o == nil {
		return false
	}
	x, _ := proto.GetExtension(o, xdsannotations.E_FieldStatus).(*xdsannotations.FieldStatusAnnotation)
	return x.GetWorkInProgress()
}
