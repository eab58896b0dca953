package translate

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// envoyDefaultDirectBody is Envoy's default
// RouteConfiguration.max_direct_response_body_size_bytes: a longer
// direct_response body fails the whole table at load (Envoy:
// source/common/router/config_impl.cc, RouteEntryImplBase constructor,
// "response body size is ... bytes; maximum is ...").
const envoyDefaultDirectBody = 4096

// redirectCodes maps policy redirect codes onto Envoy's enum (Envoy:
// api/envoy/config/route/v3/route_components.proto, RedirectResponseCode).
var redirectCodes = map[int]routev3.RedirectAction_RedirectResponseCode{
	0:   routev3.RedirectAction_MOVED_PERMANENTLY, // default
	301: routev3.RedirectAction_MOVED_PERMANENTLY,
	302: routev3.RedirectAction_FOUND,
	303: routev3.RedirectAction_SEE_OTHER,
	307: routev3.RedirectAction_TEMPORARY_REDIRECT,
	308: routev3.RedirectAction_PERMANENT_REDIRECT,
}

// answerRoute is the Envoy route of a Route that answers itself: a
// redirect or a direct response. It has no route entry, so only filters
// keyed on per-route config act on it (policy rejects protected ones).
func answerRoute(r *policy.Route, match *routev3.RouteMatch) *routev3.Route {
	out := &routev3.Route{Name: r.Name, Match: match}
	if rd := r.Spec.Redirect; rd != nil {
		ra := &routev3.RedirectAction{HostRedirect: rd.Host, PortRedirect: uint32(rd.Port), ResponseCode: redirectCodes[rd.Code]}
		if rd.Scheme == "https" {
			ra.SchemeRewriteSpecifier = &routev3.RedirectAction_HttpsRedirect{HttpsRedirect: true}
		}
		switch {
		case rd.Path != "":
			ra.PathRewriteSpecifier = &routev3.RedirectAction_PathRedirect{PathRedirect: rd.Path}
		case rd.Prefix != "":
			// prefix_rewrite swaps the matched prefix as is, like
			// RouteAction.prefix_rewrite (the proto's attention note).
			ra.PathRewriteSpecifier = &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: rd.Prefix}
		}
		out.Action = &routev3.Route_Redirect{Redirect: ra}
	}
	if dr := r.Spec.DirectResponse; dr != nil {
		da := &routev3.DirectResponseAction{Status: uint32(dr.Status)}
		if dr.BodyText != "" {
			da.Body = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: dr.BodyText}}
		}
		out.Action = &routev3.Route_DirectResponse{DirectResponse: da}
	}
	routeHeaders(out, r.Spec.Headers)
	versionHeaders(out, r.Spec.Version)
	if dr := r.Spec.DirectResponse; dr != nil && dr.ContentType != "" {
		// Last, so it wins over a content-type in headers.response. The
		// router applies the route's response headers before the local
		// reply sets text/plain, which it does only when no content-type
		// is set, and drops content-type when the body is empty (Envoy:
		// source/common/router/router.cc, direct_response
		// finalizeResponseHeaders; source/common/http/utility.cc,
		// prepareLocalReply).
		out.ResponseHeadersToAdd = append(out.ResponseHeadersToAdd, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: "content-type", Value: literalHeaderValue(dr.ContentType)},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	return out
}

// directBodyLimit raises rc's direct response body limit when one of its
// bodies needs more than Envoy's default.
func directBodyLimit(rc *routev3.RouteConfiguration) {
	longest := 0
	for _, vh := range rc.GetVirtualHosts() {
		for _, rt := range vh.GetRoutes() {
			longest = max(longest, len(rt.GetDirectResponse().GetBody().GetInlineString()))
		}
	}
	if longest > envoyDefaultDirectBody {
		rc.MaxDirectResponseBodySizeBytes = wrapperspb.UInt32(policy.MaxDirectResponseBody)
	}
}

// httpsRedirectRoute is the one route of every virtual host of an
// httpsRedirect listener: the same URL with https, on the Gateway's HTTPS
// port when it has exactly one (a request to http://host:8080 would
// otherwise keep :8080). Envoy drops an explicit :80 when it switches the
// scheme (route_components.proto, RedirectAction).
func httpsRedirectRoute(gw *policy.Gateway) *routev3.Route {
	ra := &routev3.RedirectAction{SchemeRewriteSpecifier: &routev3.RedirectAction_HttpsRedirect{HttpsRedirect: true}}
	ports := map[int]bool{}
	for _, l := range gw.Spec.Listeners {
		if l.Protocol == policy.ProtocolHTTPS {
			ports[l.Port] = true
		}
	}
	if len(ports) == 1 {
		for p := range ports {
			ra.PortRedirect = uint32(p)
		}
	}
	return &routev3.Route{
		Name:   "https-redirect",
		Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Redirect{Redirect: ra},
	}
}

// checkDirectBodies fails a route table whose direct response bodies Envoy
// would refuse (see envoyDefaultDirectBody).
func checkDirectBodies(rc *routev3.RouteConfiguration) error {
	limit := envoyDefaultDirectBody
	if m := rc.GetMaxDirectResponseBodySizeBytes(); m != nil {
		limit = int(m.GetValue())
	}
	for _, vh := range rc.GetVirtualHosts() {
		for _, rt := range vh.GetRoutes() {
			if n := len(rt.GetDirectResponse().GetBody().GetInlineString()); n > limit {
				return fmt.Errorf("route %s: direct response body is %d bytes, over the route table's max_direct_response_body_size_bytes %d; shorten the body or raise the limit", rt.GetName(), n, limit)
			}
		}
	}
	return nil
}

// checkGRPCForwards fails a proxyless route table holding a redirect or
// direct response: grpc-go has no such actions (it fails matching calls,
// grpc-go: xds/internal/xdsclient/xdsresource/unmarshal_rds.go,
// RouteActionUnsupported); the translator withholds those Routes with a
// non_forwarding_action and a note instead (Group.Skipped).
func checkGRPCForwards(c *checker, rc *routev3.RouteConfiguration) {
	for _, vh := range rc.GetVirtualHosts() {
		for _, rt := range vh.GetRoutes() {
			if rt.GetRedirect() != nil || rt.GetDirectResponse() != nil {
				c.fail("route config %s: route %s: proxyless gRPC clients cannot redirect or answer directly", rc.GetName(), rt.GetName())
			}
		}
	}
}

// httpsRedirectHosts fills the table of an httpsRedirect listener: every
// host of the listener (its hostnames, or "*") answers with the https
// redirect and nothing else. The route passes through f.route like a
// Route with no protections, so every per-route filter is off for it.
func httpsRedirectHosts(rc *routev3.RouteConfiguration, gw *policy.Gateway, l *policy.Listener, f *gwFilters) {
	hosts := l.Hostnames
	if len(hosts) == 0 {
		hosts = []string{"*"}
	}
	rt := f.route(&policy.Route{Meta: policy.Meta{Kind: policy.KindRoute, Name: "https-redirect"}}, httpsRedirectRoute(gw))
	for _, h := range hosts {
		rc.VirtualHosts = append(rc.VirtualHosts, &routev3.VirtualHost{Name: h, Domains: []string{h}, Routes: []*routev3.Route{rt}})
	}
}
