package explain

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// httpRequest is a request as a route table sees it: header names
// lower-cased (pseudo-headers :authority, :path and :method included), each
// with its values in order.
type httpRequest struct {
	headers map[string][]string
	// grpc: the request is a proxyless gRPC call, matched by grpc-go
	// against the method's full name as the path and the call's metadata
	// plus content-type, without pseudo-headers and without binary (-bin)
	// metadata (grpc-go: internal/xds/resolver/serviceconfig.go,
	// SelectConfig; stream.go adds content-type).
	grpc bool
}

// header returns a header's value as Envoy's header matchers read it: all
// values joined with ',' (Envoy: source/common/http/header_utility.cc,
// getAllOfHeaderAsString).
func (r *httpRequest) header(name string) (string, bool) {
	vs, ok := r.headers[strings.ToLower(name)]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return strings.Join(vs, ","), true
}

func (r *httpRequest) path() string { v, _ := r.header(":path"); return v }

// withoutQuery cuts a path at its query or fragment (Envoy:
// source/common/http/path_utility.cc, PathUtil::removeQueryAndFragment).
func withoutQuery(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// regexes compiles RE2 patterns once per explanation. Go's regexp package
// implements RE2 syntax; Envoy's safe_regex is RE2 with FullMatch
// semantics (Envoy: source/common/common/regex.cc, CompiledGoogleReMatcher
// uses re2::RE2::FullMatch), so a pattern is anchored at both ends here.
// The translator emits only RE2 syntax that both accept (policy
// validation compiles every pattern with Go's regexp).
type regexes map[string]*regexp.Regexp

func (c regexes) full(pattern, s string) (bool, error) {
	re, ok := c[pattern]
	if !ok {
		var err error
		re, err = regexp.Compile(`^(?:` + pattern + `)$`)
		if err != nil {
			return false, fmt.Errorf("regex %q: %w", pattern, err)
		}
		c[pattern] = re
	}
	return re.MatchString(s), nil
}

// vhostChoice is the virtual host a host selects and why.
type vhostChoice struct {
	vh  *routev3.VirtualHost
	why string
}

// selectVirtualHost follows RouteMatcher::findVirtualHost (Envoy:
// source/common/router/config_impl.cc): domains are compared lower-cased;
// an exact domain wins, then the longest suffix wildcard ("*.example.com",
// "*-bar.example.com") shorter than the host, then the longest prefix
// wildcard ("api.*") shorter than the host, then "*". A table whose only
// domain is "*" takes every request, even one without a host. grpc-go picks
// a proxyless client's virtual host by the same rules (grpc-go:
// internal/xds/xdsclient/xdsresource/matcher.go, FindBestMatchingVirtualHost).
func selectVirtualHost(rc *routev3.RouteConfiguration, host string) vhostChoice {
	host = strings.ToLower(host)
	type wild struct {
		part string
		vh   *routev3.VirtualHost
	}
	var star *routev3.VirtualHost
	var suffixes, prefixes []wild
	exact := map[string]*routev3.VirtualHost{}
	for _, vh := range rc.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			switch {
			case d == "*":
				star = vh
			case strings.HasPrefix(d, "*"):
				suffixes = append(suffixes, wild{d[1:], vh})
			case strings.HasSuffix(d, "*"):
				prefixes = append(prefixes, wild{d[:len(d)-1], vh})
			default:
				exact[d] = vh
			}
		}
	}
	if len(exact)+len(suffixes)+len(prefixes) == 0 {
		if star == nil {
			return vhostChoice{}
		}
		return vhostChoice{star, `domain "*" (the table's only virtual host takes every host)`}
	}
	if host == "" {
		return vhostChoice{why: "the request has no host"}
	}
	if vh := exact[host]; vh != nil {
		return vhostChoice{vh, fmt.Sprintf("exact domain %q", host)}
	}
	longest := func(ws []wild, match func(string) bool) *wild {
		// Envoy keeps domains by length, longest first; a wildcard must
		// leave at least one character of the host to match ("*.x.com"
		// does not match ".x.com").
		sort.SliceStable(ws, func(i, j int) bool { return len(ws[i].part) > len(ws[j].part) })
		for i := range ws {
			if len(ws[i].part) < len(host) && match(ws[i].part) {
				return &ws[i]
			}
		}
		return nil
	}
	if w := longest(suffixes, func(s string) bool { return strings.HasSuffix(host, s) }); w != nil {
		return vhostChoice{w.vh, fmt.Sprintf("suffix wildcard %q (no exact domain; the longest matching suffix)", "*"+w.part)}
	}
	if w := longest(prefixes, func(p string) bool { return strings.HasPrefix(host, p) }); w != nil {
		return vhostChoice{w.vh, fmt.Sprintf("prefix wildcard %q (no exact or suffix domain)", w.part+"*")}
	}
	if star != nil {
		return vhostChoice{star, `domain "*" (no exact or wildcard domain matches)`}
	}
	return vhostChoice{why: fmt.Sprintf("no virtual host has a domain matching %q", host)}
}

// routeMatch tells whether rt's match holds for req. It lists the
// conditions that held, path first; fail says the first that did not ("" on
// a match).
// It follows RouteEntryImplBase::matchRoute and the path matchers of each
// RouteEntryImpl (Envoy: source/common/router/config_impl.cc); an error
// means the route uses a matcher this package does not model.
func routeMatch(m *routev3.RouteMatch, req *httpRequest, re regexes) (held []string, fail string, err error) {
	if f := unmodelledMatch(m); f != "" {
		return nil, "", fmt.Errorf("route match uses %s, which explain does not model", f)
	}
	ok, why, err := pathMatch(m, req, re)
	if err != nil || !ok {
		return nil, why, err
	}
	held = append(held, why)
	for _, h := range m.GetHeaders() {
		ok, why, err := headerMatch(h, req, re)
		if err != nil || !ok {
			return held, why, err
		}
		held = append(held, why)
	}
	if len(m.GetQueryParameters()) > 0 {
		q := parseQuery(req.path())
		for _, qm := range m.GetQueryParameters() {
			ok, why, err := queryMatch(qm, q, re)
			if err != nil || !ok {
				return held, why, err
			}
			held = append(held, why)
		}
	}
	return held, "", nil
}

// unmodelledMatch names a match field the translator never emits and this
// package does not evaluate, so that a route using one is reported rather
// than guessed at.
func unmodelledMatch(m *routev3.RouteMatch) string {
	switch {
	case m.GetRuntimeFraction() != nil:
		return "runtime_fraction"
	case m.GetGrpc() != nil:
		return "grpc"
	case m.GetTlsContext() != nil:
		return "tls_context"
	case len(m.GetDynamicMetadata()) > 0:
		return "dynamic_metadata"
	case len(m.GetFilterState()) > 0:
		return "filter_state"
	case m.GetConnectMatcher() != nil:
		return "connect_matcher"
	case m.GetPathMatchPolicy() != nil:
		return "path_match_policy"
	}
	return ""
}

// pathMatch is the path part of each RouteEntryImpl's matches (Envoy:
// source/common/router/config_impl.cc; PathMatcher strips the query and
// fragment first, source/common/common/matchers.cc). case_sensitive (true
// by default) applies to prefix, path and path_separated_prefix, not to
// regexes.
func pathMatch(m *routev3.RouteMatch, req *httpRequest, re regexes) (bool, string, error) {
	path := withoutQuery(req.path())
	ci := m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue()
	fold := func(s string) string {
		if ci {
			return strings.ToLower(s)
		}
		return s
	}
	how := ""
	if ci {
		how = " (case-insensitive)"
	}
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		if strings.HasPrefix(fold(path), fold(ps.Prefix)) {
			return true, fmt.Sprintf("path %s starts with prefix %s%s", path, ps.Prefix, how), nil
		}
		return false, fmt.Sprintf("path %s does not start with prefix %s%s", path, ps.Prefix, how), nil
	case *routev3.RouteMatch_Path:
		if fold(path) == fold(ps.Path) {
			return true, fmt.Sprintf("path %s equals %s%s", path, ps.Path, how), nil
		}
		return false, fmt.Sprintf("path %s is not exactly %s%s", path, ps.Path, how), nil
	case *routev3.RouteMatch_PathSeparatedPrefix:
		// PathSeparatedPrefixRouteEntryImpl::matches: the prefix, then
		// the end of the path or '/'.
		p := ps.PathSeparatedPrefix
		if len(path) >= len(p) && fold(path[:len(p)]) == fold(p) && (len(path) == len(p) || path[len(p)] == '/') {
			return true, fmt.Sprintf("path %s is %s or under %s/ (whole segments)%s", path, p, p, how), nil
		}
		return false, fmt.Sprintf("path %s is neither %s nor under %s/ (whole segments)%s", path, p, p, how), nil
	case *routev3.RouteMatch_SafeRegex:
		ok, err := re.full(ps.SafeRegex.GetRegex(), path)
		if err != nil {
			return false, "", err
		}
		if ok {
			return true, fmt.Sprintf("path %s matches regex %s", path, ps.SafeRegex.GetRegex()), nil
		}
		return false, fmt.Sprintf("path %s does not match regex %s", path, ps.SafeRegex.GetRegex()), nil
	case *routev3.RouteMatch_ConnectMatcher_:
		// ConnectRouteEntryImpl::matches: CONNECT requests only; explain
		// takes requests with a path, which are never CONNECT.
		return false, "the route matches CONNECT requests only (a tunnel); this request is not one", nil
	}
	return false, "", fmt.Errorf("route match has no path specifier")
}

// headerMatch follows HeaderUtility::matchHeaders (Envoy:
// source/common/http/header_utility.cc): an absent header matches only a
// present_match: false (or, inverted, present_match: true); a present one
// is compared, and the result inverted by invert_match. The method is the
// :method header.
func headerMatch(h *routev3.HeaderMatcher, req *httpRequest, re regexes) (bool, string, error) {
	name := strings.ToLower(h.GetName())
	label := "header " + name
	if name == ":method" {
		label = "method"
	}
	v, present := req.header(name)
	if req.grpc && strings.HasSuffix(name, "-bin") {
		present = false // dropped by grpc-go before matching
	}
	inv := h.GetInvertMatch()
	if !present && h.GetTreatMissingHeaderAsEmpty() {
		v, present = "", true
	}
	if !present {
		pm, isPresent := h.GetHeaderMatchSpecifier().(*routev3.HeaderMatcher_PresentMatch)
		ok := isPresent && pm.PresentMatch == inv
		want := describeHeaderMatcher(h)
		if ok {
			return true, fmt.Sprintf("%s is absent, as the route wants (%s)", label, want), nil
		}
		if req.grpc && name == ":method" {
			return false, fmt.Sprintf("%s is not part of a proxyless gRPC call's metadata (route wants %s)", label, want), nil
		}
		return false, fmt.Sprintf("%s is absent (route wants %s)", label, want), nil
	}
	var ok bool
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		ok = s.PresentMatch
	case *routev3.HeaderMatcher_StringMatch:
		var err error
		ok, err = stringMatch(s.StringMatch, v, re)
		if err != nil {
			return false, "", err
		}
	case *routev3.HeaderMatcher_ExactMatch:
		ok = s.ExactMatch == "" || v == s.ExactMatch
	case *routev3.HeaderMatcher_PrefixMatch:
		ok = strings.HasPrefix(v, s.PrefixMatch)
	case *routev3.HeaderMatcher_SuffixMatch:
		ok = strings.HasSuffix(v, s.SuffixMatch)
	case *routev3.HeaderMatcher_ContainsMatch:
		ok = strings.Contains(v, s.ContainsMatch)
	case *routev3.HeaderMatcher_SafeRegexMatch:
		var err error
		ok, err = re.full(s.SafeRegexMatch.GetRegex(), v)
		if err != nil {
			return false, "", err
		}
	case nil:
		ok = true // no specifier: presence (HeaderData's default)
	default:
		return false, "", fmt.Errorf("%s: header matcher %T is not modelled", label, s)
	}
	want := describeHeaderMatcher(h)
	if ok != inv {
		return true, fmt.Sprintf("%s %s matches %s", label, v, want), nil
	}
	return false, fmt.Sprintf("%s %s does not match %s", label, v, want), nil
}

func describeHeaderMatcher(h *routev3.HeaderMatcher) string {
	var d string
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		if s.PresentMatch {
			d = "present"
		} else {
			d = "absent"
		}
	case *routev3.HeaderMatcher_StringMatch:
		d = describeStringMatcher(s.StringMatch)
	case *routev3.HeaderMatcher_ExactMatch:
		d = s.ExactMatch
	case *routev3.HeaderMatcher_PrefixMatch:
		d = "prefix " + s.PrefixMatch
	case *routev3.HeaderMatcher_SuffixMatch:
		d = "suffix " + s.SuffixMatch
	case *routev3.HeaderMatcher_ContainsMatch:
		d = "containing " + s.ContainsMatch
	case *routev3.HeaderMatcher_SafeRegexMatch:
		d = "regex " + s.SafeRegexMatch.GetRegex()
	default:
		d = "present"
	}
	if h.GetInvertMatch() {
		return "not " + d
	}
	return d
}

// stringMatch follows StringMatcherImpl::match (Envoy:
// source/common/common/matchers.h): ignore_case folds ASCII case for exact,
// prefix, suffix and contains, never for regexes.
func stringMatch(m *matcherv3.StringMatcher, v string, re regexes) (bool, error) {
	fold := func(s string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(s)
		}
		return s
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return fold(v) == fold(p.Exact), nil
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(fold(v), fold(p.Prefix)), nil
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(fold(v), fold(p.Suffix)), nil
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(fold(v), fold(p.Contains)), nil
	case *matcherv3.StringMatcher_SafeRegex:
		return re.full(p.SafeRegex.GetRegex(), v)
	}
	return false, fmt.Errorf("string matcher %T is not modelled", m.GetMatchPattern())
}

func describeStringMatcher(m *matcherv3.StringMatcher) string {
	ci := ""
	if m.GetIgnoreCase() {
		ci = " (any case)"
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return p.Exact + ci
	case *matcherv3.StringMatcher_Prefix:
		return "prefix " + p.Prefix + ci
	case *matcherv3.StringMatcher_Suffix:
		return "suffix " + p.Suffix + ci
	case *matcherv3.StringMatcher_Contains:
		return "containing " + p.Contains + ci
	case *matcherv3.StringMatcher_SafeRegex:
		return "regex " + p.SafeRegex.GetRegex()
	}
	return "?"
}

// query is a request's query parameters as Envoy's route matchers read them:
// the part of :path after the first '?', split on '&', each name=value (or
// name alone, value ""), not percent-decoded, the first value of a name
// counting (Envoy: source/common/http/utility.cc,
// QueryParamsMulti::parseQueryString; source/common/router/
// config_utility.cc, QueryParameterMatcher::matches).
type query map[string]string

func parseQuery(path string) query {
	q := query{}
	_, raw, ok := strings.Cut(path, "?")
	if !ok {
		return q
	}
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		name, value, _ := strings.Cut(p, "=")
		if _, seen := q[name]; !seen {
			q[name] = value
		}
	}
	return q
}

func queryMatch(m *routev3.QueryParameterMatcher, q query, re regexes) (bool, string, error) {
	label := "query parameter " + m.GetName()
	v, present := q[m.GetName()]
	switch s := m.GetQueryParameterMatchSpecifier().(type) {
	case *routev3.QueryParameterMatcher_PresentMatch:
		if present == s.PresentMatch {
			return true, fmt.Sprintf("%s is %s", label, presence(present)), nil
		}
		return false, fmt.Sprintf("%s is %s (route wants it %s)", label, presence(present), presence(s.PresentMatch)), nil
	case *routev3.QueryParameterMatcher_StringMatch:
		want := describeStringMatcher(s.StringMatch)
		if !present {
			return false, fmt.Sprintf("%s is absent (route wants %s)", label, want), nil
		}
		ok, err := stringMatch(s.StringMatch, v, re)
		if err != nil {
			return false, "", err
		}
		if ok {
			return true, fmt.Sprintf("%s %s matches %s", label, v, want), nil
		}
		return false, fmt.Sprintf("%s %s does not match %s", label, v, want), nil
	case nil:
		if present {
			return true, label + " is present", nil
		}
		return false, label + " is absent (route wants it present)", nil
	}
	return false, "", fmt.Errorf("%s: matcher %T is not modelled", label, m.GetQueryParameterMatchSpecifier())
}

func presence(b bool) string {
	if b {
		return "present"
	}
	return "absent"
}
