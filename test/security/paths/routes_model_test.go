package security_paths

import (
	"regexp"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// normalizeHost follows ConnectionManagerUtility::maybeNormalizeHost
// (source/common/http/conn_manager_utility.cc): the trailing dot goes when
// strip_trailing_host_dot is set, then the port with strip_any_host_port.
func normalizeHost(host string, h *hcmv3.HttpConnectionManager) string {
	if h.GetStripTrailingHostDot() {
		if name, port, ok := strings.Cut(host, ":"); ok {
			host = strings.TrimSuffix(name, ".") + ":" + port
		} else {
			host = strings.TrimSuffix(host, ".")
		}
	}
	if h.GetStripAnyHostPort() {
		host, _, _ = strings.Cut(host, ":")
	}
	return host
}

// virtualHost picks the virtual host as Envoy's RouteMatcher does
// (source/common/router/config_impl.cc): an exact domain (case-insensitive),
// else the longest "*.suffix" wildcard, else "*".
func virtualHost(rc *routev3.RouteConfiguration, host string) *routev3.VirtualHost {
	host = strings.ToLower(host)
	var best, star *routev3.VirtualHost
	bestLen := -1
	for _, vh := range rc.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			switch {
			case d == host:
				return vh
			case d == "*":
				star = vh
			case strings.HasPrefix(d, "*") && strings.HasSuffix(host, d[1:]) && len(host) > len(d)-1 && len(d) > bestLen:
				best, bestLen = vh, len(d)
			}
		}
	}
	if best != nil {
		return best
	}
	return star
}

func withoutQuery(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// pathMatches is the path part of RouteEntryImplBase::matches for each
// path specifier gatehouse emits (source/common/router/config_impl.cc):
// prefix against the whole :path, exact and regex against the path without
// its query, path_separated_prefix as the prefix followed by nothing or '/'.
// Case-sensitive, as gatehouse never sets case_sensitive false.
func pathMatches(m *routev3.RouteMatch, path string) bool {
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		return strings.HasPrefix(path, ps.Prefix)
	case *routev3.RouteMatch_Path:
		return withoutQuery(path) == ps.Path
	case *routev3.RouteMatch_PathSeparatedPrefix:
		p := withoutQuery(path)
		return strings.HasPrefix(p, ps.PathSeparatedPrefix) && (len(p) == len(ps.PathSeparatedPrefix) || p[len(ps.PathSeparatedPrefix)] == '/')
	case *routev3.RouteMatch_SafeRegex:
		return regexp.MustCompile("^(?:" + ps.SafeRegex.GetRegex() + ")$").MatchString(withoutQuery(path))
	}
	panic("path specifier not modelled")
}

// methodMatches checks the :method matcher gatehouse emits; any other
// header matcher is outside this model.
func methodMatches(m *routev3.RouteMatch, method string) bool {
	for _, h := range m.GetHeaders() {
		if h.GetName() != ":method" {
			panic("header matcher not modelled: " + h.GetName())
		}
		sm := h.GetStringMatch()
		switch {
		case sm.GetExact() != "":
			if method != sm.GetExact() {
				return false
			}
		case sm.GetSafeRegex() != nil:
			if !regexp.MustCompile("^(?:" + sm.GetSafeRegex().GetRegex() + ")$").MatchString(method) {
				return false
			}
		}
	}
	return true
}

// routeFor is the first route of the chosen virtual host that matches, or
// nil (Envoy answers 404).
func routeFor(rc *routev3.RouteConfiguration, host, method, path string) *routev3.Route {
	vh := virtualHost(rc, host)
	if vh == nil {
		return nil
	}
	for _, r := range vh.GetRoutes() {
		if pathMatches(r.GetMatch(), path) && methodMatches(r.GetMatch(), method) {
			return r
		}
	}
	return nil
}
