package translate

import (
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Headers for a cache in front (a Route's or its Gateway's cdn):
// Cache-Control and Surrogate-Control as route response header additions,
// added only when the upstream sent none (ADD_IF_ABSENT), or replacing
// the upstream's with override (OVERWRITE_IF_EXISTS_OR_ADD). The router
// applies them to the upstream's response before any filter sees it
// (source/common/router/router.cc, onUpstreamHeaders ->
// finalizeResponseHeaders), so Envoy's cache filter reads the same
// Cache-Control (policy refuses a cache ttl next to a cdn Cache-Control).
//
// Local replies get the route's response headers too: the filter manager
// finalizes them before sending any local reply of a routed request
// (source/common/http/filter_manager.cc, sendLocalReplyViaFilterChain and
// prepareLocalReplyViaFilterChain), so a 401 from ext_authz or a 429 from
// a rate limit would carry "public, max-age=300" and a CDN would serve
// that refusal to every client for five minutes (one caller exhausting a
// limit would lock everyone out). The connection manager's local reply
// mapper runs after that (source/common/http/utility.cc, prepareLocalReply:
// modify_headers_ then rewrite_), so on Gateways that set Cache-Control it
// overwrites Cache-Control and Surrogate-Control with no-store on every
// local reply of status 400 and above (localReplyNoStore). Redirects and
// direct responses (below 400) keep the Route's headers.

// runtimeNoStoreStatus is the runtime key of the local-reply mapper's
// status threshold (RuntimeUInt32 needs one; its default applies).
const runtimeNoStoreStatus = "local_reply.gatehouse.no_store_status"

// localReplyNoStore is the mapper: every local reply >= 400 is no-store
// for any cache, through every header a cache in front reads
// (policy.CDNHeaderNames: Cache-Control, Surrogate-Control, RFC 9213
// CDN-Cache-Control and the vendors' targeted fields, which a CDN prefers
// to Cache-Control, so a Route's CDN-Cache-Control: max-age=300 would
// otherwise make a 429 cacheable whatever Cache-Control says).
var localReplyNoStore = &hcmv3.LocalReplyConfig{Mappers: []*hcmv3.ResponseMapper{{
	Filter: &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_StatusCodeFilter{StatusCodeFilter: &accesslogv3.StatusCodeFilter{
		Comparison: &accesslogv3.ComparisonFilter{Op: accesslogv3.ComparisonFilter_GE, Value: &corev3.RuntimeUInt32{DefaultValue: 400, RuntimeKey: runtimeNoStoreStatus}},
	}}},
	HeadersToAdd: noStoreHeaders(),
}}}

func noStoreHeaders() []*corev3.HeaderValueOption {
	var out []*corev3.HeaderValueOption
	for _, k := range policy.CDNHeaderNames() {
		out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: "no-store"}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD})
	}
	return out
}

// setsCacheHeaders reports whether some Route of gw gets a header a cache
// in front reads (policy.IsCDNHeader) from gatehouse (cdn, a cache ttl,
// or the Route's own response header changes).
func setsCacheHeaders(gw *policy.Gateway, routes []*policy.Route) bool {
	for _, r := range routes {
		if h := r.Spec.Headers; h != nil && h.Response != nil {
			for _, m := range []map[string]string{h.Response.Set, h.Response.Add} {
				for k := range m {
					if policy.IsCDNHeader(k) {
						return true
					}
				}
			}
		}
		if r.EffectiveCDN(gw) != nil {
			return true
		}
		if cached, _ := r.CachedOn(gw); cached && r.EffectiveCache(gw).TTL > 0 {
			return true
		}
	}
	return false
}

// cdnRoute adds r's CDN headers on gw to rt's response header additions
// (rt is a copy of the shared route: its lists are copied, never grown).
func cdnRoute(rt *routev3.Route, r *policy.Route, gw *policy.Gateway) {
	cc, sc := r.CDNHeaders(gw)
	if cc == "" && sc == "" {
		return
	}
	action := corev3.HeaderValueOption_ADD_IF_ABSENT
	if r.EffectiveCDN(gw).Override {
		action = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	}
	add := append([]*corev3.HeaderValueOption(nil), rt.GetResponseHeadersToAdd()...)
	if cc != "" {
		add = append(add, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "cache-control", Value: cc}, AppendAction: action})
	}
	if sc != "" {
		add = append(add, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "surrogate-control", Value: sc}, AppendAction: action})
	}
	rt.ResponseHeadersToAdd = add
}
