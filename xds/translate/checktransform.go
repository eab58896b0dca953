package translate

import (
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// transformProcessor: the transformation filter fails closed on the filter
// and on every Route (an upstream must never get the shape the
// transformation exists to change), and transformExtra holds what only it
// needs.
var transformProcessor = processorFilter{
	filter: wire.FilterTransform, what: "the transformation filter", processor: wire.ProcessorTransform,
	policyKey: wire.TransformMetadataKey, policy: "Transformation",
	whyClosed: "the upstream would get requests the transformation exists to change",
	modes:     (*checker).transformModeRules,
	extra:     (*checker).transformExtra,
}

// transformExtra: the transformation filter never re-routes after a
// header change (RETAIN: the request keeps the Route whose checks it
// passed), and the processor cannot change its processing mode.
func (c *checker) transformExtra(where string, m *extprocv3.ExternalProcessor) {
	if m.GetRouteCacheAction() != extprocv3.ExternalProcessor_RETAIN {
		c.fail("%s: the transformation filter must set route_cache_action RETAIN (is %s): a changed header would otherwise re-route the request past its Route's checks", where, m.GetRouteCacheAction())
	}
	if m.GetAllowModeOverride() {
		c.fail("%s: the transformation filter must not let the processor change its processing mode", where)
	}
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
		if t != faultType && t != routerType && t != transcoderType {
			c.fail("%s http filter %q: comes after the transformation filter %q; only fault injection, the transcoder and the router may follow it", where, f.GetName(), wire.FilterTransform)
		}
	}
}
