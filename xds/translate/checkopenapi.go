package translate

import (
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// openAPIFilter checks the filter named wire.FilterOpenAPI: an ext_proc
// filter held to openAPIFilterRules (Envoy's own load-time rules for
// ext_proc are extProcRules, checked for every ext_proc filter).
func (c *checker) openAPIFilter(where string, mt protoreflect.MessageType, a *anypb.Any) {
	if mt == nil || mt.Descriptor().FullName() != extProcType {
		c.fail("%s: the request validation filter must be an ext_proc filter", where)
		return
	}
	m := &extprocv3.ExternalProcessor{}
	if c.unmarshal(where, a, m) {
		c.openAPIFilterRules(where, m)
	}
}

// openAPIFilterRules: gatehouse's rules for its validation filter, each
// closing a way around validation. It fails closed, it names the openapi
// processor once (pkg/extproc dispatches on it) and no validation for the
// whole filter (Routes choose theirs), it receives the decision namespace,
// and its processing mode is openAPIModeRules'.
func (c *checker) openAPIFilterRules(where string, m *extprocv3.ExternalProcessor) {
	if m.GetFailureModeAllow() {
		c.fail("%s: request validation must fail closed (failure_mode_allow: false): a validator that is down would let every request through unchecked", where)
	}
	if eg := m.GetGrpcService().GetEnvoyGrpc(); eg == nil || eg.GetClusterName() != wire.ExtProcCluster {
		c.fail("%s: request validation must call gatehouse's external processing cluster %q", where, wire.ExtProcCluster)
	}
	procs := 0
	for _, h := range m.GetGrpcService().GetInitialMetadata() {
		switch strings.ToLower(h.GetKey()) {
		case wire.ProcessorMetadataKey:
			procs++
			if h.GetValue() != wire.ProcessorOpenAPI {
				c.fail("%s: initial metadata %s is %q, want %q", where, wire.ProcessorMetadataKey, h.GetValue(), wire.ProcessorOpenAPI)
			}
		case wire.OpenAPIPolicyMetadataKey:
			c.fail("%s: the validation is chosen per route (ExtProcPerRoute), not for the whole filter", where)
		}
	}
	if procs != 1 {
		c.fail("%s: initial metadata must name the processor once (%s: %s), has %d", where, wire.ProcessorMetadataKey, wire.ProcessorOpenAPI, procs)
	}
	found := false
	for _, n := range m.GetMetadataOptions().GetReceivingNamespaces().GetUntyped() {
		found = found || n == wire.OpenAPIMetadataNamespace
	}
	if !found {
		c.fail("%s: metadata_options.receiving_namespaces.untyped must list %s, or Envoy drops the validator's decisions", where, wire.OpenAPIMetadataNamespace)
	}
	c.openAPIModeRules(where, m.GetProcessingMode())
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

// openAPIPerRoute: a Route either disables validation or names exactly
// one, and does not redirect the stream to another processor or service
// or let it fail open. Checked once per distinct config.
func (c *checker) openAPIPerRoute(where string, a *anypb.Any) {
	if c.openAPIRouteDone[string(a.GetValue())] {
		return
	}
	if c.openAPIRouteDone == nil {
		c.openAPIRouteDone = map[string]bool{}
	}
	c.openAPIRouteDone[string(a.GetValue())] = true
	pr := &extprocv3.ExtProcPerRoute{}
	if !c.unmarshal(where, a, pr) || pr.GetDisabled() {
		return
	}
	ov := pr.GetOverrides()
	if ov == nil {
		c.fail("%s: a request validation per-route config either disables the filter or names a validation in overrides", where)
		return
	}
	names := 0
	for _, h := range ov.GetGrpcInitialMetadata() {
		switch strings.ToLower(h.GetKey()) {
		case wire.OpenAPIPolicyMetadataKey:
			names++
			if h.GetValue() == "" {
				c.fail("%s: empty %s", where, wire.OpenAPIPolicyMetadataKey)
			}
		case wire.ProcessorMetadataKey:
			c.fail("%s: a route must not change the processor (%s)", where, wire.ProcessorMetadataKey)
		}
	}
	if names != 1 {
		c.fail("%s: a validated route must name exactly one validation (%s), names %d", where, wire.OpenAPIPolicyMetadataKey, names)
	}
	if ov.GetGrpcService() != nil {
		c.fail("%s: a validated route must not point the filter at another service", where)
	}
	if ov.GetFailureModeAllow().GetValue() {
		c.fail("%s: request validation must fail closed on every route", where)
	}
	if ov.GetProcessingMode() != nil {
		c.openAPIModeRules(where, ov.GetProcessingMode())
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
		case t == faultType || t == routerType || f.GetName() == openAPIFollower:
		default:
			c.fail("%s http filter %q: comes after request validation %q; only transformation, fault injection and the router may", where, f.GetName(), wire.FilterOpenAPI)
		}
	}
}

// openAPIFollower is the one ext_proc filter allowed after validation:
// transformation reshapes the validated request for the upstream.
const openAPIFollower = wire.FilterTransform
