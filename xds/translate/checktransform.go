package translate

import (
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// transformFilter checks the filter named wire.FilterTransform: an
// ext_proc filter held to transformFilterRules (and Envoy's own,
// extProcRules, which every ext_proc filter gets).
func (c *checker) transformFilter(where string, mt protoreflect.MessageType, a *anypb.Any) {
	if mt == nil || mt.Descriptor().FullName() != extProcType {
		c.fail("%s: the transformation filter must be an ext_proc filter", where)
		return
	}
	m := &extprocv3.ExternalProcessor{}
	if c.unmarshal(where, a, m) {
		c.transformFilterRules(where, m)
	}
}

// transformFilterRules: gatehouse's own rules for its transformation
// filter. It fails closed (an upstream must never get the shape the
// transformation exists to change), names the transform processor and
// nothing else, never re-routes after a header change (RETAIN: the
// request keeps the Route whose checks it passed), and its mode is
// transformModeRules'.
func (c *checker) transformFilterRules(where string, m *extprocv3.ExternalProcessor) {
	if m.GetFailureModeAllow() {
		c.fail("%s: the transformation filter must fail closed (failure_mode_allow: false)", where)
	}
	if eg := m.GetGrpcService().GetEnvoyGrpc(); eg == nil || eg.GetClusterName() != wire.ExtProcCluster {
		c.fail("%s: the transformation filter must call gatehouse's external processing cluster %q", where, wire.ExtProcCluster)
	}
	procs := 0
	for _, h := range m.GetGrpcService().GetInitialMetadata() {
		switch strings.ToLower(h.GetKey()) {
		case wire.ProcessorMetadataKey:
			procs++
			if h.GetValue() != wire.ProcessorTransform {
				c.fail("%s: initial metadata %s is %q, want %q", where, wire.ProcessorMetadataKey, h.GetValue(), wire.ProcessorTransform)
			}
		case wire.TransformMetadataKey:
			c.fail("%s: the Transformation is chosen per route (ExtProcPerRoute), not for the whole filter", where)
		}
	}
	if procs != 1 {
		c.fail("%s: initial metadata must name the processor once (%s: %s), has %d", where, wire.ProcessorMetadataKey, wire.ProcessorTransform, procs)
	}
	if m.GetRouteCacheAction() != extprocv3.ExternalProcessor_RETAIN {
		c.fail("%s: the transformation filter must set route_cache_action RETAIN (is %s): a changed header would otherwise re-route the request past its Route's checks", where, m.GetRouteCacheAction())
	}
	if m.GetAllowModeOverride() {
		c.fail("%s: the transformation filter must not let the processor change its processing mode", where)
	}
	c.transformModeRules(where, m.GetProcessingMode())
}

// transformModeRules: bodies whole or not at all (the service holds the
// whole body: with STREAMED or BUFFERED_PARTIAL the chunks it holds are
// answered empty, and the upstream would get a cleared body if the last
// one never came), and with trailers sent when a body is (a body
// followed by trailers never says end_of_stream; the service refuses
// it). Headers are needed with a body (the service sets content-type
// and drops content-length there).
func (c *checker) transformModeRules(where string, pm *extprocv3.ProcessingMode) {
	if pm == nil {
		c.fail("%s: the transformation filter needs an explicit processing_mode", where)
		return
	}
	for _, s := range []struct {
		side          string
		headers, tail extprocv3.ProcessingMode_HeaderSendMode
		body          extprocv3.ProcessingMode_BodySendMode
	}{
		{"request", pm.GetRequestHeaderMode(), pm.GetRequestTrailerMode(), pm.GetRequestBodyMode()},
		{"response", pm.GetResponseHeaderMode(), pm.GetResponseTrailerMode(), pm.GetResponseBodyMode()},
	} {
		switch s.body {
		case extprocv3.ProcessingMode_NONE:
		case extprocv3.ProcessingMode_BUFFERED:
			if s.headers == extprocv3.ProcessingMode_SKIP {
				c.fail("%s: a transformation of the %s body needs the %s headers", where, s.side, s.side)
			}
			if s.tail != extprocv3.ProcessingMode_SEND {
				c.fail("%s: a transformation of the %s body needs %s_trailer_mode SEND", where, s.side, s.side)
			}
		default:
			c.fail("%s: the transformation filter's %s_body_mode must be NONE or BUFFERED (is %s): the service transforms whole bodies", where, s.side, s.body)
		}
	}
}

// transformPerRoute: a Route either disables the filter or names exactly
// one Transformation, without changing the processor, the service or the
// failure mode. Checked once per distinct config.
func (c *checker) transformPerRoute(where string, a *anypb.Any) {
	if c.transformRouteDone[string(a.GetValue())] {
		return
	}
	if c.transformRouteDone == nil {
		c.transformRouteDone = map[string]bool{}
	}
	c.transformRouteDone[string(a.GetValue())] = true
	pr := &extprocv3.ExtProcPerRoute{}
	if !c.unmarshal(where, a, pr) || pr.GetDisabled() {
		return
	}
	ov := pr.GetOverrides()
	if ov == nil {
		c.fail("%s: a transformation per-route config either disables the filter or names a Transformation in overrides", where)
		return
	}
	names := 0
	for _, h := range ov.GetGrpcInitialMetadata() {
		switch strings.ToLower(h.GetKey()) {
		case wire.TransformMetadataKey:
			names++
			if h.GetValue() == "" {
				c.fail("%s: empty %s", where, wire.TransformMetadataKey)
			}
		case wire.ProcessorMetadataKey:
			c.fail("%s: a route must not change the processor (%s)", where, wire.ProcessorMetadataKey)
		}
	}
	if names != 1 {
		c.fail("%s: a transformation route must name exactly one Transformation (%s), names %d", where, wire.TransformMetadataKey, names)
	}
	if ov.GetGrpcService() != nil {
		c.fail("%s: a transformation route must not point the filter at another service", where)
	}
	if ov.GetFailureModeAllow().GetValue() {
		c.fail("%s: a transformation route must not fail open", where)
	}
	if ov.GetProcessingMode() != nil {
		c.transformModeRules(where, ov.GetProcessingMode())
	}
}

// transformOrder: the transformation filter comes after every filter that
// can refuse a request (a refused request costs no transformation, and
// authentication and authorization judge what the client sent) and after
// the WAF; only fault injection and the router come after it.
func (c *checker) transformOrder(where string, fs []*hcmv3.HttpFilter) {
	at := -1
	for i, f := range fs {
		if f.GetName() == wire.FilterTransform {
			at = i
		}
	}
	if at < 0 {
		return
	}
	for i, f := range fs {
		if i <= at {
			continue
		}
		t := protoreflect.FullName(strings.TrimPrefix(f.GetTypedConfig().GetTypeUrl(), "type.googleapis.com/"))
		if t != faultType && t != routerType {
			c.fail("%s http filter %q: comes after the transformation filter %q; only fault injection and the router may follow it", where, f.GetName(), wire.FilterTransform)
		}
	}
}
