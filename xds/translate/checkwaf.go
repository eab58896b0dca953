package translate

import (
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// extProcRules: what Envoy refuses when it loads an ext_proc filter.
// Envoy: source/extensions/filters/http/ext_proc/config.cc
// (verifyFilterConfig: "One and only one of grpc_service or http_service
// must be configured", "disable_clear_route_cache and route_cache_action
// can not be set to none-default at the same time."; verifyProcessingModeConfig:
// "If the ext_proc filter is configured with http_service instead of gRPC
// service, then the processing modes of this filter can not be configured
// to send body or trailer.", "If the ext_proc filter has the
// request_body_mode set to FULL_DUPLEX_STREAMED, then the
// request_trailer_mode has to be set to SEND" (and the response
// equivalent), "... FULL_DUPLEX_STREAMED, then the failure_mode_allow has
// to be left as false").
func (c *checker) extProcRules(where string, m *extprocv3.ExternalProcessor) {
	if (m.GetGrpcService() != nil) == (m.GetHttpService() != nil) {
		c.fail("%s: ext_proc needs exactly one of grpc_service or http_service", where)
	}
	if m.GetDisableClearRouteCache() && m.GetRouteCacheAction() != extprocv3.ExternalProcessor_DEFAULT {
		c.fail("%s: ext_proc disable_clear_route_cache and route_cache_action are both set", where)
	}
	pm := m.GetProcessingMode()
	if m.GetHttpService() != nil && (pm.GetRequestBodyMode() != extprocv3.ProcessingMode_NONE || pm.GetResponseBodyMode() != extprocv3.ProcessingMode_NONE ||
		pm.GetRequestTrailerMode() == extprocv3.ProcessingMode_SEND || pm.GetResponseTrailerMode() == extprocv3.ProcessingMode_SEND) {
		c.fail("%s: ext_proc with http_service cannot send bodies or trailers", where)
	}
	duplex := false
	if pm.GetRequestBodyMode() == extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED {
		duplex = true
		if pm.GetRequestTrailerMode() != extprocv3.ProcessingMode_SEND {
			c.fail("%s: ext_proc request_body_mode FULL_DUPLEX_STREAMED needs request_trailer_mode SEND", where)
		}
	}
	if pm.GetResponseBodyMode() == extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED {
		duplex = true
		if pm.GetResponseTrailerMode() != extprocv3.ProcessingMode_SEND {
			c.fail("%s: ext_proc response_body_mode FULL_DUPLEX_STREAMED needs response_trailer_mode SEND", where)
		}
	}
	if duplex && m.GetFailureModeAllow() {
		c.fail("%s: ext_proc with a FULL_DUPLEX_STREAMED body mode cannot set failure_mode_allow", where)
	}
}

// wafProcessor: the WAF fails closed and its rule ids reach the access
// log; a Firewall's failureMode: allow is the one per-route fail-open.
var wafProcessor = processorFilter{
	filter: wire.FilterWAF, what: "the WAF", processor: wire.ProcessorWAF,
	policyKey: wire.WAFPolicyMetadataKey, policy: "Firewall", namespace: wire.WAFMetadataNamespace,
	whyClosed:        "a WAF that is down would let every attack through",
	routeMayFailOpen: true,
	modes:            (*checker).wafModeRules,
}

// wafModeRules: the request goes to the WAF whole before any of it goes
// upstream (BUFFERED holds the headers: see wafMode), with its trailers
// (otherwise a request with trailers is never evaluated as a whole), and
// a response inspected at all is inspected whole and before the client
// gets it. Envoy accepts the other modes; the WAF would be bypassable.
func (c *checker) wafModeRules(where string, pm *extprocv3.ProcessingMode) {
	if pm == nil {
		c.fail("%s: the WAF needs an explicit processing_mode", where)
		return
	}
	if pm.GetRequestHeaderMode() == extprocv3.ProcessingMode_SKIP {
		c.fail("%s: the WAF must receive request headers", where)
	}
	if pm.GetRequestBodyMode() != extprocv3.ProcessingMode_BUFFERED {
		c.fail("%s: the WAF's request_body_mode must be BUFFERED (is %s): any other mode lets the request reach the upstream before the WAF has seen all of it", where, pm.GetRequestBodyMode())
	}
	if pm.GetRequestTrailerMode() != extprocv3.ProcessingMode_SEND {
		c.fail("%s: the WAF's request_trailer_mode must be SEND: a request with trailers would otherwise never be evaluated as a whole", where)
	}
	respHeaders := pm.GetResponseHeaderMode() != extprocv3.ProcessingMode_SKIP
	switch {
	case respHeaders && (pm.GetResponseBodyMode() != extprocv3.ProcessingMode_BUFFERED || pm.GetResponseTrailerMode() != extprocv3.ProcessingMode_SEND):
		c.fail("%s: a WAF inspecting responses needs response_body_mode BUFFERED and response_trailer_mode SEND (is %s, %s)", where, pm.GetResponseBodyMode(), pm.GetResponseTrailerMode())
	case !respHeaders && (pm.GetResponseBodyMode() != extprocv3.ProcessingMode_NONE || pm.GetResponseTrailerMode() == extprocv3.ProcessingMode_SEND):
		c.fail("%s: a WAF that skips response headers must not ask for the response body or trailers", where)
	}
}

// wafOrder: the WAF filter comes after every filter that can refuse a
// request (authentication, authorization, rate limits: they are cheaper,
// and the WAF then inspects what is forwarded), and only the processors
// that reshape the request for the upstream (afterWAF: request validation and transformation),
// fault injection and the router come after it.
func (c *checker) wafOrder(where string, fs []*hcmv3.HttpFilter) {
	wafAt := -1
	for i, f := range fs {
		if f.GetName() == wireFilterWAF {
			wafAt = i
		}
	}
	if wafAt < 0 {
		return
	}
	for i, f := range fs {
		t := protoreflect.FullName(strings.TrimPrefix(f.GetTypedConfig().GetTypeUrl(), "type.googleapis.com/"))
		switch {
		case i < wafAt || i == wafAt:
		case t == faultType || t == routerType || t == transcoderType:
		case afterWAF[f.GetName()] && t == extProcType:
			continue
		case f.GetName() == wire.FilterCache && t == cacheType:
			// The cache after the WAF: every request, a hit too, is
			// inspected first, and a hit's response passes the WAF's
			// response phase on its way out (the response path runs the
			// chain backwards from the cache).
			continue
		default:
			c.fail("%s http filter %q: comes after the WAF %q; the WAF must be the last filter before request validation, the cache, transformation, fault injection and the router", where, f.GetName(), wireFilterWAF)
		}
		if i > wafAt && refusingFilters[t] {
			c.fail("%s http filter %q: can refuse a request but runs after the WAF; put authentication, authorization and rate limits before it", where, f.GetName())
		}
	}
}

const wireFilterWAF = wire.FilterWAF

// afterWAF are the ext_proc filters that may follow the WAF (the agreed
// order, from the router backwards: fault, transform, openapi, waf).
var afterWAF = map[string]bool{wire.FilterOpenAPI: true, wire.FilterTransform: true}
