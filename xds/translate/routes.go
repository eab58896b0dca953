package translate

import (
	"regexp"
	"sort"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Path kinds in route order: exact first, then prefix, then regex.
const (
	rankExact = iota
	rankPrefix
	rankRegex
)

// orderKey is what POLICY-MODEL.md orders a host's routes by: never file
// order, so that the most specific Route wins wherever it was written.
type orderKey struct {
	rank       int
	pathLen    int // prefix length (longer first); 0 for others
	conditions int // methods (as one) + headers + query; more first
	name       string
}

func keyOf(r *policy.Route) orderKey {
	m := &r.Spec.Match
	k := orderKey{rank: rankPrefix, name: r.Name, conditions: len(m.Headers) + len(m.Query)}
	if len(m.Methods) > 0 {
		k.conditions++
	}
	switch {
	case m.Path.Exact != "":
		k.rank = rankExact
	case m.Path.Regex != "":
		k.rank = rankRegex
	default:
		k.pathLen = len(m.Path.Prefix)
		if k.pathLen == 0 {
			k.pathLen = 1 // the "/" default
		}
	}
	return k
}

func (a orderKey) less(b orderKey) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	if a.pathLen != b.pathLen {
		return a.pathLen > b.pathLen
	}
	if a.conditions != b.conditions {
		return a.conditions > b.conditions
	}
	return a.name < b.name
}

// hostUnder reports whether host h falls under pattern p: "*" covers every
// host, "*.example.com" covers its subdomains (including narrower wildcards).
func hostUnder(h, p string) bool {
	if p == "*" || h == p {
		return true
	}
	if strings.HasPrefix(p, "*.") {
		suffix := p[1:] // ".example.com"
		return len(h) > len(suffix) && strings.HasSuffix(h, suffix)
	}
	return false
}

// vhostRoutes groups routes by virtual host as a listener sees them. A
// listener with hostnames serves only routes whose hosts fall under them; a
// route host wider than a listener hostname (e.g. "*") serves it as that
// listener hostname.
func vhostRoutes(hostnames []string, routes []*policy.Route) map[string][]*policy.Route {
	out := map[string][]*policy.Route{}
	add := func(h string, r *policy.Route) {
		rs := out[h]
		if n := len(rs); n > 0 && rs[n-1] == r {
			return
		}
		out[h] = append(rs, r)
	}
	for _, r := range routes {
		for _, h := range routeHosts(r) {
			if len(hostnames) == 0 {
				add(h, r)
				continue
			}
			for _, lh := range hostnames {
				switch {
				case hostUnder(h, lh):
					add(h, r)
				case hostUnder(lh, h):
					add(lh, r)
				}
			}
		}
	}
	return out
}

func routeMatch(m *policy.RouteMatch) *routev3.RouteMatch {
	rm := &routev3.RouteMatch{}
	switch {
	case m.Path.Exact != "":
		rm.PathSpecifier = &routev3.RouteMatch_Path{Path: m.Path.Exact}
	case m.Path.Regex != "":
		rm.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: m.Path.Regex}}
	case m.Path.Prefix != "" && m.Path.Segments && m.Path.Prefix != "/":
		// Envoy: source/common/router/config_impl.cc,
		// PathSeparatedPrefixRouteEntryImpl::matches: the path without its
		// query must equal the prefix or continue with '/'.
		rm.PathSpecifier = &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: m.Path.Prefix}
	case m.Path.Prefix != "":
		rm.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: m.Path.Prefix}
	default:
		rm.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/"}
	}
	if m.Path.CaseInsensitive {
		// Applies to prefix, path and path_separated_prefix, never to
		// safe_regex (Envoy: source/common/router/config_impl.cc,
		// RouteEntryImplBase's case_sensitive_).
		rm.CaseSensitive = wrapperspb.Bool(false)
	}
	if len(m.Methods) > 0 {
		rm.Headers = append(rm.Headers, methodMatcher(m.Methods))
	}
	for i := range m.Headers {
		h := &m.Headers[i]
		hm := &routev3.HeaderMatcher{Name: h.Name}
		if h.Present {
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
		} else {
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: stringMatch(h)}
		}
		rm.Headers = append(rm.Headers, hm)
	}
	for i := range m.Query {
		q := &m.Query[i]
		qm := &routev3.QueryParameterMatcher{Name: q.Name}
		if q.Present {
			qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}
		} else {
			qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_StringMatch{StringMatch: stringMatch(q)}
		}
		rm.QueryParameters = append(rm.QueryParameters, qm)
	}
	return rm
}

// grpcMatch is match as a proxyless client takes it: grpc-go knows no
// path_separated_prefix, so a segment-wise prefix becomes the equivalent
// anchored regex (grpc-go matches safe_regex against the whole path); and a
// :method matcher that POST passes is dropped (withoutPostMethod: grpc-go
// would never match it).
func grpcMatch(match *routev3.RouteMatch) *routev3.RouteMatch {
	p := match.GetPathSeparatedPrefix()
	hs := withoutPostMethod(match.GetHeaders())
	if p == "" && len(hs) == len(match.GetHeaders()) {
		return match
	}
	// A shallow copy: the groups are read-only once built, so the copy
	// shares match's other sub-messages instead of deep-cloning them
	// (proto.Clone here was most of this function's cost in a full build).
	m := shallowMatch(match, "headers")
	m.Headers = hs
	if p != "" {
		re := segmentRegex(p)
		if m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue() {
			// grpc-go, like Envoy, ignores case_sensitive on a regex.
			re = "(?i)" + re
		}
		m.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: re}}
	}
	return m
}

// segmentRegex matches what path_separated_prefix p matches: p itself, or
// p followed by '/' and anything.
func segmentRegex(p string) string { return regexp.QuoteMeta(p) + "(/.*)?" }

func stringMatch(h *policy.HeaderMatch) *matcherv3.StringMatcher {
	switch {
	case h.Prefix != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: h.Prefix}}
	case h.Regex != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: h.Regex}}}
	default:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: h.Exact}}
	}
}

// methodMatcher matches :method: exact for one method, an anchored RE2
// alternation for several (sorted, so the output is stable).
func methodMatcher(methods []string) *routev3.HeaderMatcher {
	if len(methods) == 1 {
		return &routev3.HeaderMatcher{Name: ":method", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: methods[0]}},
		}}
	}
	ms := make([]string, len(methods))
	for i, m := range methods {
		ms[i] = regexp.QuoteMeta(m)
	}
	sort.Strings(ms)
	return &routev3.HeaderMatcher{Name: ":method", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{
			SafeRegex: &matcherv3.RegexMatcher{Regex: "^(" + strings.Join(ms, "|") + ")$"},
		}},
	}}
}

// clusterTarget sets the route's cluster or weighted clusters. Backends
// naming the same Service are merged (weights summed); weight-0 backends
// stay (Envoy accepts them while the total is positive: a drained backend).
func clusterTarget(ra *routev3.RouteAction, backends []policy.Backend) {
	// Nothing else is set on ra here: buildRoute shares the specifier.
	if len(backends) == 1 {
		ra.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: clusterName(backends[0].Service)}
		return
	}
	order := make([]string, 0, len(backends))
	weights := make(map[string]int, len(backends))
	for _, b := range backends {
		if _, ok := weights[b.Service]; !ok {
			order = append(order, b.Service)
		}
		weights[b.Service] += b.W()
	}
	if len(order) == 1 {
		ra.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: clusterName(order[0])}
		return
	}
	wc := &routev3.WeightedCluster{Clusters: make([]*routev3.WeightedCluster_ClusterWeight, 0, len(order))}
	for _, s := range order {
		wc.Clusters = append(wc.Clusters, &routev3.WeightedCluster_ClusterWeight{Name: clusterName(s), Weight: wrapperspb.UInt32(uint32(weights[s]))})
	}
	ra.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: wc}
}

// hashPolicy comes from the first backend whose Service hashes (policy
// validation rejects Routes whose backends disagree).
func hashPolicy(backends []policy.Backend, services map[string]*policy.Service) []*routev3.RouteAction_HashPolicy {
	for _, b := range backends {
		s := services[b.Service]
		if s == nil || s.Spec.LoadBalancer == nil || s.Spec.LoadBalancer.HashOn == nil {
			continue
		}
		if p := s.Spec.LoadBalancer.Policy; p != policy.LBRingHash && p != policy.LBMaglev {
			continue
		}
		h := s.Spec.LoadBalancer.HashOn
		switch {
		case h.Header != "":
			return []*routev3.RouteAction_HashPolicy{{PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: h.Header}}}}
		case h.Cookie != "":
			return []*routev3.RouteAction_HashPolicy{{PolicySpecifier: &routev3.RouteAction_HashPolicy_Cookie_{Cookie: &routev3.RouteAction_HashPolicy_Cookie{Name: h.Cookie}}}}
		case h.SourceIP:
			return []*routev3.RouteAction_HashPolicy{{PolicySpecifier: &routev3.RouteAction_HashPolicy_ConnectionProperties_{ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true}}}}
		}
	}
	return nil
}

// buildRoute builds a Route for both client kinds. Envoy's and the
// proxyless client's share their match (when there is no query match) and
// cluster target.
func buildRoute(r *policy.Route, services map[string]*policy.Service) *builtRoute {
	s := &r.Spec
	match := routeMatch(&s.Match)
	target := &routev3.RouteAction{}
	clusterTarget(target, s.Backends)
	hp := hashPolicy(s.Backends, services)
	streaming := r.IsStreaming(services)
	if r.Answers() {
		// No proxyless form: buildGRPCGroup withholds it (answerRoute).
		return &builtRoute{key: keyOf(r), envoy: answerRoute(r, match)}
	}
	if r.Tunnels() {
		match = connectMatch(match)
	}
	br := &builtRoute{key: keyOf(r), envoy: envoyRoute(r, match, target, hp, streaming, r.Upgrades(services)), streaming: streaming}
	// grpc-go skips routes with query matchers; the group leaves them out
	// and says so (Group.Skipped) instead of serving a route it ignores.
	// A CONNECT Route has no proxyless form: grpc-go never sends CONNECT,
	// and its match (no path) would read as a catch-all prefix.
	if len(s.Match.Query) == 0 && !r.Tunnels() {
		br.grpc = grpcRoute(r, grpcMatch(match), target, hp)
	}
	return br
}

// envoyRoute builds a Route for Envoy. A zero timeout leaves
// RouteAction.timeout unset, i.e. Envoy's default of 15s per request: the
// safer choice at the edge than "no timeout", except on streaming Routes.
func envoyRoute(r *policy.Route, match *routev3.RouteMatch, target *routev3.RouteAction, hp []*routev3.RouteAction_HashPolicy, streaming bool, upgrades []string) *routev3.Route {
	s := &r.Spec
	ra := &routev3.RouteAction{ClusterSpecifier: target.ClusterSpecifier, HashPolicy: hp}
	if s.Timeout > 0 {
		ra.Timeout = durationpb.New(s.Timeout.D())
	}
	if streaming {
		streamingAction(ra, s.Timeout.D())
	}
	if len(upgrades) > 0 {
		// Upgrades are refused unless the connection manager or the route
		// enables them; a route's enabled: true suffices (Envoy:
		// source/extensions/filters/network/http_connection_manager/
		// config.cc, createUpgradeFilterChain). ext_authz does not wait for
		// a body on an upgrade request (Envoy: source/extensions/filters/
		// http/ext_authz/ext_authz.cc, isWebSocketUpgradeRequest), so the
		// handshake is authorized like any request.
		//
		// On by default (policy.Route.WebSocketAllowed) without making the
		// Route streaming: neither timeout cuts an open socket. The route
		// timeout starts only when the downstream request is complete
		// (source/common/router/router.cc, Filter::onRequestComplete arms
		// response_timeout_), which an upgraded stream is not until the
		// client closes it; the listener's request_timeout is disarmed
		// when the response starts (the 101; http_connection_manager.proto,
		// request_timeout). stream_idle_timeout still closes idle sockets;
		// websocket: true lifts the route timeout as well.
		//
		// Other upgrades (upgrades.go in pkg/policy) are configured the
		// same way, each by its token; CONNECT also ends the CONNECT
		// request in Envoy (connectUpgrade).
		ra.UpgradeConfigs = upgradeConfigs(upgrades)
	}
	routeTimeouts(ra, r, streaming)
	ra.RetryPolicy = envoyRetryPolicy(s.Retries)
	ra.HedgePolicy = hedgePolicy(s.Retries)
	if rw := s.Rewrite; rw != nil {
		switch {
		case rw.Prefix != "" && slashJoin(&s.Match.Path, rw.Prefix):
			// Envoy replaces the matched prefix with prefix_rewrite as is
			// (source/common/router/config_impl.cc, finalizePathHeader):
			// /api/users with prefix /api and rewrite / would become
			// //users. A regex rewrite eats the prefix and the slashes
			// after it instead, as Envoy Gateway does for a rewrite to "/"
			// (envoyproxy/envoy issue 26055); regex_rewrite leaves the
			// query alone.
			ra.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{
				Pattern: &matcherv3.RegexMatcher{Regex: "^" + regexp.QuoteMeta(matchedPrefix(&s.Match.Path)) + "/*"},
				// RE2 substitutions read backslashes as escapes.
				Substitution: strings.ReplaceAll(rw.Prefix, `\`, `\\`),
			}
		case rw.Prefix != "" && slashDrop(&s.Match.Path, rw.Prefix):
			// The inverse: prefix /api/ rewritten to /v2 would forward
			// /api/users as /v2users, another resource. Keep the
			// separator the prefix consumed.
			ra.PrefixRewrite = rw.Prefix + "/"
		case rw.Prefix != "":
			ra.PrefixRewrite = rw.Prefix
		case rw.Regex != nil:
			ra.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{
				Pattern:      &matcherv3.RegexMatcher{Regex: rw.Regex.Pattern},
				Substitution: rw.Regex.Substitution,
			}
		}
		if rw.Host != "" {
			ra.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: rw.Host}
		}
	}
	ra.RequestMirrorPolicies = mirrorPolicies(s.Mirror)
	out := &routev3.Route{
		Name:   r.Name,
		Match:  match,
		Action: &routev3.Route_Route{Route: ra},
		// Per-route stats, vhost.<host>.route.<name>.upstream_rq_*
		// (route_components.proto, Route.stat_prefix: the virtual
		// cluster stats of docs/root/configuration/http/http_filters/
		// router_filter.rst), tagged route and virtual_host by the
		// bootstrap's stats_config (envoy/bootstrap.yaml.tmpl). About
		// 1 KiB per route and host in Envoy; Route names are bounded
		// by the policy.
		StatPrefix: r.Name,
	}
	routeHeaders(out, s.Headers)
	versionHeaders(out, s.Version)
	return out
}

// routeHeaders sets a Route's request and response header changes on out.
func routeHeaders(out *routev3.Route, h *policy.RouteHeaders) {
	if h == nil {
		return
	}
	if c := h.Request; c != nil {
		out.RequestHeadersToAdd = headerOptions(c)
		out.RequestHeadersToRemove = sortedCopy(c.Remove)
	}
	if c := h.Response; c != nil {
		out.ResponseHeadersToAdd = headerOptions(c)
		out.ResponseHeadersToRemove = sortedCopy(c.Remove)
	}
}

func headerOptions(c *policy.HeaderChanges) []*corev3.HeaderValueOption {
	if len(c.Set)+len(c.Add) == 0 {
		return nil
	}
	out := make([]*corev3.HeaderValueOption, 0, len(c.Set)+len(c.Add))
	for _, k := range sortedKeys(c.Set) {
		out = append(out, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: k, Value: literalHeaderValue(c.Set[k])},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	for _, k := range sortedKeys(c.Add) {
		out = append(out, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: k, Value: literalHeaderValue(c.Add[k])},
			AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
		})
	}
	return out
}

// literalHeaderValue makes a policy header value literal for Envoy, which
// reads request and response header values as substitution format strings:
// "%%" is a literal '%', a bare '%' is refused at load ("50%") and
// "%NAME%" is a command ("%DOWNSTREAM_REMOTE_ADDRESS%" would send the
// client's address, not the text the policy wrote). Policy values are
// literal text, so every '%' is escaped.
// Envoy: source/common/router/header_parser.cc (values are parsed by the
// substitution formatter), source/common/formatter/substitution_formatter.cc
// (SubstitutionFormatParser::parse: "%%" is an escaped '%').
func literalHeaderValue(v string) string {
	return strings.ReplaceAll(v, "%", "%%")
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// envoyRouteConfig builds the route table of one Gateway listener.
func envoyRouteConfig(gw *policy.Gateway, l *policy.Listener, routes []*policy.Route, ix *index, f *gwFilters) *routev3.RouteConfiguration {
	byHost := vhostRoutes(l.Hostnames, routes)
	rc := &routev3.RouteConfiguration{
		Name:         routeConfigName(gw.Name, l.Name),
		VirtualHosts: make([]*routev3.VirtualHost, 0, len(byHost)),
		// Routes always name clusters of the same snapshot; do not let a
		// missing one fail the whole table at load.
		ValidateClusters: wrapperspb.Bool(false),
	}
	if f.usesPathKey() {
		// Set by the first filter for rate-limit descriptors only.
		rc.RequestHeadersToRemove = []string{wire.RateLimitPathHeader}
	}
	if gw.Spec.ClientIP != nil {
		// Set by the first filter for the authz service only; the upstream
		// has X-Forwarded-For or the trusted header.
		rc.RequestHeadersToRemove = append(rc.RequestHeadersToRemove, wire.ClientIPHeader)
	}
	if l.HTTPSRedirect {
		httpsRedirectHosts(rc, gw, l, f)
		return rc
	}
	for _, h := range sortedKeys(byHost) {
		rs := byHost[h]
		ix.sortRoutes(rs)
		vh := &routev3.VirtualHost{Name: h, Domains: []string{h}, Routes: make([]*routev3.Route, 0, len(rs))}
		for _, r := range rs {
			vh.Routes = append(vh.Routes, f.routes2(r, ix.routes[r].envoy)...)
		}
		rc.VirtualHosts = append(rc.VirtualHosts, vh)
	}
	directBodyLimit(rc)
	return rc
}

// streamingAction gives a streaming Route no whole-call timeout: the
// router's timeout (default 15s) runs from the end of the request to the
// end of the response, which a stream reaches only when it closes.
// Without its own timeout the Route's calls are bounded by the client's
// grpc-timeout, when it sends one (grpc_timeout_header_max: 0 takes it
// as is; with a Route timeout, capped by it, and the timeout moves to
// max_stream_duration for calls without one: routeTimeouts), and otherwise
// only by the connection manager's stream_idle_timeout (Envoy: source/common/router/
// router.cc, FilterUtility::finalTimeout; api/envoy/config/route/v3/
// route_components.proto, MaxStreamDuration).
func streamingAction(ra *routev3.RouteAction, timeout time.Duration) {
	if timeout <= 0 {
		ra.Timeout = durationpb.New(0)
	}
	ra.MaxStreamDuration = &routev3.RouteAction_MaxStreamDuration{GrpcTimeoutHeaderMax: durationpb.New(timeout)}
}

// matchedPrefix is the prefix a Route's path matches by ("/" when it
// names none), or "" for exact and regex paths.
func matchedPrefix(pm *policy.PathMatch) string {
	switch {
	case pm.Exact != "" || pm.Regex != "":
		return ""
	case pm.Prefix == "":
		return "/"
	}
	return pm.Prefix
}

// slashJoin reports whether a prefix rewrite to rw would join two slashes:
// rw ends with '/' and the matched prefix does not, so the '/' that follows
// the prefix in the request path is kept after the rewrite's own.
func slashJoin(pm *policy.PathMatch, rw string) bool {
	p := matchedPrefix(pm)
	return p != "" && strings.HasSuffix(rw, "/") && !strings.HasSuffix(p, "/")
}

// slashDrop reports whether a prefix rewrite to rw would glue the next
// segment onto rw: the matched prefix ends with '/' (the default "/" too:
// /users rewritten to /v2 would be /v2users) and rw does not.
func slashDrop(pm *policy.PathMatch, rw string) bool {
	p := matchedPrefix(pm)
	return strings.HasSuffix(p, "/") && !strings.HasSuffix(rw, "/")
}

// mirrorPolicies sends a copy of a share of the Route's requests to each
// mirror's cluster. Envoy's router sends the copy once the request has
// passed every filter (so only requests the Route's protections let
// through are mirrored, with the headers they had then), appends -shadow
// to its Host and discards the answer (Envoy: source/common/router/
// router.cc, Filter::decodeHeaders, shadow_policies). The runtime key is
// left empty, so no runtime layer can change the share.
func mirrorPolicies(ms []policy.Mirror) []*routev3.RouteAction_RequestMirrorPolicy {
	if len(ms) == 0 {
		return nil
	}
	out := make([]*routev3.RouteAction_RequestMirrorPolicy, len(ms))
	for i, m := range ms {
		out[i] = &routev3.RouteAction_RequestMirrorPolicy{Cluster: clusterName(m.Service)}
		if p := m.P(); p < 100 {
			out[i].RuntimeFraction = &corev3.RuntimeFractionalPercent{DefaultValue: percent(p)}
		}
	}
	return out
}

// shallowMatch returns a new RouteMatch holding every populated field of
// src but those named in skip, sharing src's sub-messages (read-only, like
// everything a group holds once built). The caller sets the skipped fields.
// It copies the fields by name rather than through protoreflect (a quarter
// of building a Route, full-build profile); matchFields lists them, and
// TestShallowMatchCopiesEveryField fails when go-control-plane's RouteMatch
// gains a field this does not copy.
func shallowMatch(src *routev3.RouteMatch, skip ...protoreflect.Name) *routev3.RouteMatch {
	m := &routev3.RouteMatch{
		PathSpecifier:   src.PathSpecifier,
		CaseSensitive:   src.CaseSensitive,
		RuntimeFraction: src.RuntimeFraction,
		Headers:         src.Headers,
		QueryParameters: src.QueryParameters,
		Cookies:         src.Cookies,
		Grpc:            src.Grpc,
		TlsContext:      src.TlsContext,
		DynamicMetadata: src.DynamicMetadata,
		FilterState:     src.FilterState,
	}
	if u := src.ProtoReflect().GetUnknown(); len(u) > 0 {
		m.ProtoReflect().SetUnknown(u)
	}
	for _, n := range skip {
		switch n {
		case "headers":
			m.Headers = nil
		case "query_parameters":
			m.QueryParameters = nil
		default:
			panic("shallowMatch: cannot skip " + string(n))
		}
	}
	return m
}

// matchFields are the RouteMatch fields shallowMatch copies (the oneof by
// its name).
var matchFields = []protoreflect.Name{"path_specifier", "case_sensitive", "runtime_fraction", "headers",
	"query_parameters", "cookies", "grpc", "tls_context", "dynamic_metadata", "filter_state"}
