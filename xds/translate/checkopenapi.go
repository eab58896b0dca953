package translate

import (
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// openAPIProcessor: request validation fails closed on the filter and on
// every Route, and its decisions (location, field) reach the access log.
var openAPIProcessor = processorFilter{
	filter: wire.FilterOpenAPI, what: "request validation", processor: wire.ProcessorOpenAPI,
	policyKey: wire.OpenAPIPolicyMetadataKey, policy: "validation", namespace: wire.OpenAPIMetadataNamespace,
	whyClosed: "a validator that is down would let every request through unchecked",
	modes:     (*checker).openAPIModeRules,
}

// openAPIModeRules: the whole request goes to the validator before any of
// it goes upstream (BUFFERED holds the headers until the body's answer),
// with its trailers (otherwise a request with trailers is never judged as
// a whole); responses, when sent, are sent whole (headers, every chunk,
// trailers) so the log-only verdict is about the response the client got.
func (c *checker) openAPIModeRules(where string, pm *extprocv3.ProcessingMode) {
	if pm == nil {
		c.fail("%s: request validation needs an explicit processing_mode", where)
		return
	}
	if pm.GetRequestHeaderMode() == extprocv3.ProcessingMode_SKIP {
		c.fail("%s: request validation must receive request headers", where)
	}
	if pm.GetRequestBodyMode() != extprocv3.ProcessingMode_BUFFERED {
		c.fail("%s: request validation's request_body_mode must be BUFFERED (is %s): any other mode lets the request reach the upstream before it is validated", where, pm.GetRequestBodyMode())
	}
	if pm.GetRequestTrailerMode() != extprocv3.ProcessingMode_SEND {
		c.fail("%s: request validation's request_trailer_mode must be SEND: a request with trailers would otherwise never be validated as a whole", where)
	}
	respHeaders := pm.GetResponseHeaderMode() != extprocv3.ProcessingMode_SKIP
	body := pm.GetResponseBodyMode()
	switch {
	case respHeaders && ((body != extprocv3.ProcessingMode_STREAMED && body != extprocv3.ProcessingMode_BUFFERED) || pm.GetResponseTrailerMode() != extprocv3.ProcessingMode_SEND):
		c.fail("%s: response validation needs the whole response: response_body_mode STREAMED or BUFFERED and response_trailer_mode SEND (is %s, %s)", where, body, pm.GetResponseTrailerMode())
	case !respHeaders && (body != extprocv3.ProcessingMode_NONE || pm.GetResponseTrailerMode() == extprocv3.ProcessingMode_SEND):
		c.fail("%s: request validation that skips response headers must not ask for the response body or trailers", where)
	}
}

// openAPIOrder: request validation comes after every filter that can
// refuse a request (authentication, authorization, rate limits, the WAF:
// shared-extproc order "router <- fault <- transform <- openapi <- waf <-
// rate limits <- ext_authz <- jwt_authn <- cors"), so the WAF sees the
// client's raw request first; after it come only transformation, fault
// injection and the router.
func (c *checker) openAPIOrder(where string, fs []*hcmv3.HttpFilter) {
	at := -1
	for i, f := range fs {
		if f.GetName() == wire.FilterOpenAPI {
			at = i
		}
	}
	if at < 0 {
		return
	}
	for i, f := range fs {
		t := protoreflect.FullName(strings.TrimPrefix(f.GetTypedConfig().GetTypeUrl(), "type.googleapis.com/"))
		switch {
		case i <= at:
		case t == faultType || t == routerType || t == transcoderType || f.GetName() == openAPIFollower:
		case f.GetName() == wire.FilterCache && t == cacheType:
			// A hit is served only to a request that passed validation.
		default:
			c.fail("%s http filter %q: comes after request validation %q; only the cache, transformation, fault injection and the router may", where, f.GetName(), wire.FilterOpenAPI)
		}
	}
}

// openAPIFollower is the one ext_proc filter allowed after validation:
// transformation reshapes the validated request for the upstream.
const openAPIFollower = wire.FilterTransform
