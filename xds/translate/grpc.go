package translate

import (
	"sort"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// grpcRouteConfigName names a proxyless client's route table. It cannot
// collide with Envoy's "routes/<gateway>/<listener>" names.
func grpcRouteConfigName(gw, host string) string { return "grpc/" + gw + "/" + host }

// grpcRetryOn maps policy retry conditions onto the gRPC status names
// grpc-go retries on; it ignores HTTP conditions such as 5xx.
var grpcRetryOn = map[string]string{
	"5xx":                "unavailable",
	"gateway-error":      "unavailable",
	"reset":              "unavailable",
	"connect-failure":    "unavailable",
	"refused-stream":     "unavailable",
	"unavailable":        "unavailable",
	"cancelled":          "cancelled",
	"deadline-exceeded":  "deadline-exceeded",
	"internal":           "internal",
	"resource-exhausted": "resource-exhausted",
}

// grpcHosts are the hosts a proxyless client can dial (policy.ProxylessHost).
func grpcHosts(routes []*policy.Route) map[string][]*policy.Route {
	out := map[string][]*policy.Route{}
	for _, r := range routes {
		for _, h := range routeHosts(r) {
			if !policy.ProxylessHost(h) {
				continue
			}
			if rs := out[h]; len(rs) == 0 || rs[len(rs)-1] != r {
				out[h] = append(rs, r)
			}
		}
	}
	return out
}

// buildGRPCGroup builds the proxyless gRPC clients' resources of one
// Gateway: an api_listener per exact Route host, each with its own route
// table, and clusters grpc-go accepts.
func buildGRPCGroup(gw *policy.Gateway, routes []*policy.Route, ix *index) (*Group, error) {
	g := &Group{EDS: map[string]string{}}
	byHost := grpcHosts(routes)
	hcmAny := map[string]*anyT{}
	var used []*policy.Route
	usedSet := map[*policy.Route]bool{}
	withheld := withheldRoutes{}
	answering := withheldRoutes{}
	tunnels := map[*policy.Route]bool{}
	for _, host := range sortedKeys(byHost) {
		rs := byHost[host]
		ix.sortRoutes(rs)
		rcName := grpcRouteConfigName(gw.Name, host)
		vh := &routev3.VirtualHost{Name: host, Domains: []string{host}, Routes: make([]*routev3.Route, 0, len(rs))}
		faults := false // some Route of the host injects faults: the table needs the filter
		for _, r := range rs {
			if r.Tunnels() {
				// No gRPC call is a CONNECT, so leaving the Route out lets
				// no call fall through; grpc-go would refuse the whole
				// table over its connect_matcher (checkrules.go).
				if !tunnels[r] {
					tunnels[r] = true
					g.Skipped = append(g.Skipped, r.Meta.Ref()+": a CONNECT tunnel is Envoy-only; proxyless gRPC never sends CONNECT")
				}
				continue
			}
			if r.ProxylessWithheld(gw, ix.snap.Services) {
				vh.Routes = append(vh.Routes, withheld.route(r, ix))
				continue
			}
			if r.Answers() {
				// grpc-go cannot redirect or answer: withheld the same way.
				vh.Routes = append(vh.Routes, answering.route(r, ix))
				continue
			}
			gr := ix.routes[r].grpc
			if gr == nil { // see buildRoute
				g.Skipped = append(g.Skipped, r.Meta.Ref()+" on host "+host+": query matching is not supported by proxyless gRPC")
				continue
			}
			vh.Routes = append(vh.Routes, gr)
			faults = faults || gr.GetTypedPerFilterConfig()[filterFault] != nil
			if !usedSet[r] {
				usedSet[r] = true
				used = append(used, r)
			}
		}
		g.Routes = append(g.Routes, &routev3.RouteConfiguration{Name: rcName, VirtualHosts: []*routev3.VirtualHost{vh}})
		a := hcmAny[rcName]
		if a == nil {
			filters := []*hcmv3.HttpFilter{{Name: filterRouter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: anyRouter}}}
			if faults {
				// grpc-go implements the fault filter (gRFC A33); only
				// hosts with a fault get it, so older clients see no change.
				filters = append([]*hcmv3.HttpFilter{{Name: filterFault, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: anyFault}}}, filters...)
			}
			a = mustAny(&hcmv3.HttpConnectionManager{
				StatPrefix: host,
				RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
					ConfigSource:    adsSource(),
					RouteConfigName: rcName,
				}},
				HttpFilters: filters,
			})
		}
		g.Listeners = append(g.Listeners, &listenerv3.Listener{Name: host, ApiListener: &listenerv3.ApiListener{ApiListener: a}})
	}
	sort.Slice(used, func(i, j int) bool { return used[i].Name < used[j].Name })
	for _, r := range used {
		if s := grpcSkipped(gw, r, ix.snap.Services); s != "" {
			g.Skipped = append(g.Skipped, s)
		}
		if n := grpcIgnoredTimeouts(r); len(n) > 0 {
			g.Skipped = append(g.Skipped, r.Meta.Ref()+": "+strings.Join(n, ", ")+" not honoured by proxyless gRPC (grpc-go has no such setting); Envoy applies them")
		}
		if v := r.Spec.Version; v != nil && (!v.DeprecatedAt.IsZero() || !v.SunsetAt.IsZero()) {
			g.Skipped = append(g.Skipped, r.Meta.Ref()+": version "+v.Name+"'s Deprecation/Sunset/Link headers are Envoy-only; grpc-go adds no response headers")
		}
		if len(r.Spec.Mirror) > 0 {
			g.Skipped = append(g.Skipped, r.Meta.Ref()+": mirror is Envoy-only; grpc-go does not mirror, so proxyless calls are not copied")
		}
		if f := r.Spec.Fault; f != nil && f.WhenHeader != nil {
			g.Skipped = append(g.Skipped, r.Meta.Ref()+": fault with whenHeader is not served to proxyless gRPC: grpc-go's fault filter ignores header matchers and would inject it into every call")
		}
	}
	for r := range withheld {
		g.Skipped = append(g.Skipped, r.Meta.Ref()+": withheld from proxyless gRPC, which cannot enforce its "+
			strings.Join(r.Protections(gw, ix.snap.Services), ", ")+" (calls it matches fail with UNAVAILABLE; proxyless.serveUnprotected opts in)")
	}
	for r := range answering {
		g.Skipped = append(g.Skipped, r.Meta.Ref()+": a redirect or direct response is Envoy-only; proxyless gRPC calls it matches fail with UNAVAILABLE")
	}
	for _, s := range addClusters(g, gw, used, ix, ClientGRPC) {
		lb := ix.snap.Services[s].Spec.LoadBalancer
		if lb == nil {
			continue
		}
		switch lb.Policy {
		case policy.LBMaglev:
			g.Skipped = append(g.Skipped, "Service/"+s+": MAGLEV is served to proxyless gRPC as ring hash")
		case policy.LBRandom:
			g.Skipped = append(g.Skipped, "Service/"+s+": RANDOM is served to proxyless gRPC as round robin")
		}
		if h := lb.HashOn; h != nil && h.Header == "" {
			g.Skipped = append(g.Skipped, "Service/"+s+": hashOn cookie/sourceIP is served to proxyless gRPC as per-channel hashing")
		}
	}
	sortGroup(g)
	return g, nil
}

// grpcRoute is envoyRoute's proxyless counterpart: no rewrites or header
// changes (grpc-go ignores them), timeouts as max_stream_duration, retries
// on gRPC status names only.
func grpcRoute(r *policy.Route, match *routev3.RouteMatch, target *routev3.RouteAction, hp []*routev3.RouteAction_HashPolicy) *routev3.Route {
	s := &r.Spec
	ra := &routev3.RouteAction{ClusterSpecifier: target.ClusterSpecifier, HashPolicy: grpcHashPolicy(hp)}
	ra.MaxStreamDuration = grpcTimeouts(r)
	if rt := s.Retries; rt != nil {
		var on []string
		seen := map[string]bool{}
		for _, c := range rt.On {
			if m, ok := grpcRetryOn[c]; ok && !seen[m] {
				seen[m] = true
				on = append(on, m)
			}
		}
		// With nothing grpc-go can retry on, send no policy at all.
		if len(on) > 0 {
			sort.Strings(on)
			rp := &routev3.RetryPolicy{RetryOn: strings.Join(on, ",")}
			if rt.Attempts > 0 { // unset means 1; an explicit 0 NACKs
				rp.NumRetries = wrapperspb.UInt32(uint32(rt.Attempts))
			}
			if rt.PerTryTimeout > 0 {
				rp.PerTryTimeout = durationpb.New(rt.PerTryTimeout.D())
			}
			rp.RetryBackOff = retryBackOff(rt.Backoff)
			ra.RetryPolicy = rp
		}
	}
	out := &routev3.Route{Name: r.Name, Match: match, Action: &routev3.Route_Route{Route: ra}}
	// grpc-go's fault filter ignores HTTPFault.headers (grpc-go:
	// internal/xds/httpfilter/fault/fault.go, BuildClientInterceptor reads
	// only delay, abort and max_active_faults): a fault meant for calls
	// with a header would hit every call, so it is left out (and noted).
	if f := s.Fault; f != nil && f.WhenHeader == nil {
		out.TypedPerFilterConfig = map[string]*anyT{filterFault: faultConfig(f)}
	}
	return out
}

// grpcHashPolicy keeps header hashing, which grpc-go implements, and turns
// cookie and source-IP hashing (which it ignores, leaving ring hash to pick
// at random) into its per-channel hash: one client keeps its backend, the
// closest a proxyless client comes to either.
func grpcHashPolicy(hp []*routev3.RouteAction_HashPolicy) []*routev3.RouteAction_HashPolicy {
	if len(hp) == 0 || hp[0].GetHeader() != nil {
		return hp
	}
	return []*routev3.RouteAction_HashPolicy{{PolicySpecifier: &routev3.RouteAction_HashPolicy_FilterState_{
		FilterState: &routev3.RouteAction_HashPolicy_FilterState{Key: grpcChannelIDKey},
	}}}
}

// grpcChannelIDKey is the filter-state key grpc-go hashes on per channel.
const grpcChannelIDKey = "io.grpc.channel_id"

// withheldRoutes builds, once per Route, what a proxyless group gets in
// place of a protected Route nobody opted in to serve unprotected
// (policy.Route.ProxylessWithheld). Leaving the Route out would let its
// calls fall through to a less specific Route (a catch-all) with weaker
// or no protection; instead the group keeps its match with an action no
// client may forward: grpc-go fails a call whose matched route is not a
// forwarding route with UNAVAILABLE (grpc-go: xds/internal/resolver/
// serviceconfig.go, errUnsupportedClientRouteAction). Query matchers
// are dropped from the match, so the Route is withheld for every query
// (grpc-go ignores routes with query matchers: the group would not hold
// the Route at all), and so is a method matcher that POST passes (see
// withoutPostMethod).
type withheldRoutes map[*policy.Route]*routev3.Route

func (w withheldRoutes) route(r *policy.Route, ix *index) *routev3.Route {
	if rt := w[r]; rt != nil {
		return rt
	}
	envoy := ix.routes[r].envoy.GetMatch()
	m := shallowMatch(envoy, "headers", "query_parameters")
	m.Headers = withoutPostMethod(envoy.GetHeaders())
	rt := &routev3.Route{Name: r.Name, Match: m, Action: &routev3.Route_NonForwardingAction{NonForwardingAction: &routev3.NonForwardingAction{}}}
	w[r] = rt
	return rt
}

// withoutPostMethod drops a :method matcher that accepts POST. grpc-go
// matches a call's metadata, which carries no :method (grpc-go:
// internal/xds/resolver/serviceconfig.go, SelectConfig), so such a matcher
// never matches a proxyless call: a served Route would never be used, and
// a withheld Route would let its calls fall through to a less specific
// Route. Every gRPC call is a POST: without the matcher the Route takes
// exactly the calls Envoy would route to it. A matcher POST fails is kept:
// that Route takes no gRPC call, through Envoy either. The result shares
// hs's matchers (read-only) but never its backing array.
func withoutPostMethod(hs []*routev3.HeaderMatcher) []*routev3.HeaderMatcher {
	out := hs[:0:0]
	for _, h := range hs {
		if h.GetName() == ":method" && acceptsPost(h) {
			continue
		}
		out = append(out, h)
	}
	return out
}

// acceptsPost evaluates a :method matcher from methodMatcher on "POST".
func acceptsPost(h *routev3.HeaderMatcher) bool {
	sm := h.GetStringMatch()
	if sm == nil || h.GetInvertMatch() {
		return false
	}
	if re := sm.GetSafeRegex().GetRegex(); re != "" {
		return matchesPost(re)
	}
	return sm.GetExact() == "POST"
}
