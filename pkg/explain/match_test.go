package explain

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestSelectVirtualHost(t *testing.T) {
	vh := func(name string, domains ...string) *routev3.VirtualHost {
		return &routev3.VirtualHost{Name: name, Domains: domains}
	}
	rc := &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{
		vh("exact", "api.example.com"),
		vh("suffix", "*.example.com"),
		vh("longer-suffix", "*.eu.example.com"),
		vh("dash-suffix", "*-bar.example.com"),
		vh("prefix", "api.*"),
		vh("star", "*"),
	}}
	for _, c := range []struct{ host, want, why string }{
		{"api.example.com", "exact", "exact domain"},
		{"API.Example.COM", "exact", "exact domain"}, // hosts are case-insensitive
		{"shop.example.com", "suffix", "suffix wildcard"},
		{"a.eu.example.com", "longer-suffix", "longest matching suffix"},
		{"foo-bar.example.com", "dash-suffix", "suffix wildcard"}, // "-bar.example.com" is longer than ".example.com"
		{".example.com", "star", `domain "*"`},                    // a wildcard must leave a character
		{"api.other.net", "prefix", "prefix wildcard"},
		{"api.example.net", "prefix", "prefix wildcard"}, // suffixes before prefixes, but none matches
		{"x.eu.example.com", "longer-suffix", "suffix"},
		{"other.net", "star", `domain "*"`},
		{"", "", "no host"},
	} {
		got := selectVirtualHost(rc, c.host)
		if got.vh.GetName() != c.want || !strings.Contains(got.why, c.why) {
			t.Errorf("host %q: got %q (%s), want %q (%s)", c.host, got.vh.GetName(), got.why, c.want, c.why)
		}
	}
	// Suffix wildcards win over prefix wildcards.
	both := &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vh("p", "api.*"), vh("s", "*.com")}}
	if got := selectVirtualHost(both, "api.example.com"); got.vh.GetName() != "s" {
		t.Errorf("suffix vs prefix: got %s", got.vh.GetName())
	}
	// A table with only "*" takes a request without a host (Envoy's fast
	// path); one without "*" matches nothing.
	only := &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vh("star", "*")}}
	if got := selectVirtualHost(only, ""); got.vh.GetName() != "star" {
		t.Errorf("only *: got %v", got.vh.GetName())
	}
	none := &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vh("exact", "a.example.com")}}
	if got := selectVirtualHost(none, "b.example.com"); got.vh != nil || !strings.Contains(got.why, "no virtual host") {
		t.Errorf("no match: got %v (%s)", got.vh.GetName(), got.why)
	}
}

func req(method, path string, headers ...string) *httpRequest {
	r := &httpRequest{headers: map[string][]string{":method": {method}, ":path": {path}, ":authority": {"h"}}}
	for i := 0; i+1 < len(headers); i += 2 {
		n := strings.ToLower(headers[i])
		r.headers[n] = append(r.headers[n], headers[i+1])
	}
	return r
}

func exact(v string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}}
}

func hdr(name string, sm *matcherv3.StringMatcher, invert bool) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: name, InvertMatch: invert, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm}}
}

func present(name string, p, invert bool) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: name, InvertMatch: invert, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: p}}
}

func TestRouteMatch(t *testing.T) {
	prefix := func(p string) *routev3.RouteMatch {
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: p}}
	}
	segs := func(p string) *routev3.RouteMatch {
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: p}}
	}
	ci := func(m *routev3.RouteMatch) *routev3.RouteMatch {
		m.CaseSensitive = wrapperspb.Bool(false)
		return m
	}
	exactPath := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/login"}}
	regex := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "/items/[0-9]+"}}}
	with := func(m *routev3.RouteMatch, hs ...*routev3.HeaderMatcher) *routev3.RouteMatch {
		m.Headers = hs
		return m
	}
	withQuery := func(m *routev3.RouteMatch, qs ...*routev3.QueryParameterMatcher) *routev3.RouteMatch {
		m.QueryParameters = qs
		return m
	}
	qPresent := &routev3.QueryParameterMatcher{Name: "debug", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}}
	qExact := &routev3.QueryParameterMatcher{Name: "format", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: exact("json")}}
	methods := &routev3.HeaderMatcher{Name: ":method", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
		MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "^(GET|HEAD)$"}}}}}

	for _, c := range []struct {
		name  string
		m     *routev3.RouteMatch
		r     *httpRequest
		ok    bool
		about string // a part of the reason
	}{
		{"prefix", prefix("/users"), req("GET", "/users/1"), true, "starts with prefix /users"},
		{"prefix is a string prefix", prefix("/users"), req("GET", "/usersadmin"), true, "starts with"},
		{"prefix is case-sensitive", prefix("/users"), req("GET", "/Users/1"), false, "does not start with prefix /users"},
		{"case-insensitive prefix", ci(prefix("/users")), req("GET", "/USERS/1"), true, "case-insensitive"},
		{"prefix ignores the query", prefix("/a"), req("GET", "/?x=/a"), false, "path / does not start"},
		{"exact ignores the query", exactPath, req("GET", "/login?next=/x"), true, "equals /login"},
		{"exact trailing slash", exactPath, req("GET", "/login/"), false, "is not exactly /login"},
		{"segments: the prefix itself", segs("/public"), req("GET", "/public"), true, "whole segments"},
		{"segments: trailing slash", segs("/public"), req("GET", "/public/"), true, "whole segments"},
		{"segments: below", segs("/public"), req("GET", "/public/a/b"), true, "whole segments"},
		{"segments: not a longer segment", segs("/public"), req("GET", "/publicadmin"), false, "neither /public nor under /public/"},
		{"segments: query after the prefix", segs("/public"), req("GET", "/public?x=1"), true, "whole segments"},
		{"segments: case-sensitive", segs("/public"), req("GET", "/Public/a"), false, "neither"},
		{"segments: case-insensitive", ci(segs("/public")), req("GET", "/PUBLIC/a"), true, "case-insensitive"},
		{"regex is a full match", regex, req("GET", "/items/12"), true, "matches regex"},
		{"regex anchored at the end", regex, req("GET", "/items/12/x"), false, "does not match regex"},
		{"regex anchored at the start", regex, req("GET", "/v1/items/12"), false, "does not match regex"},
		{"regex without the query", regex, req("GET", "/items/12?x=1"), true, "matches regex"},
		{"regex ignores case_sensitive", ci(&routev3.RouteMatch{PathSpecifier: regex.PathSpecifier}), req("GET", "/ITEMS/12"), false, "does not match"},
		{"method exact", with(prefix("/"), hdr(":method", exact("POST"), false)), req("GET", "/"), false, "method GET does not match POST"},
		{"method exact holds", with(prefix("/"), hdr(":method", exact("POST"), false)), req("POST", "/"), true, "method POST matches POST"},
		{"method regex", with(prefix("/"), methods), req("HEAD", "/"), true, "method HEAD matches regex"},
		{"method regex fails", with(prefix("/"), methods), req("DELETE", "/"), false, "method DELETE does not match regex ^(GET|HEAD)$"},
		{"header present", with(prefix("/"), present("x-canary", true, false)), req("GET", "/", "X-Canary", "1"), true, "x-canary 1 matches present"},
		{"header present but absent", with(prefix("/"), present("x-canary", true, false)), req("GET", "/"), false, "header x-canary is absent (route wants present)"},
		{"header absent wanted", with(prefix("/"), present("x-canary", false, false)), req("GET", "/"), true, "absent, as the route wants"},
		{"header absent wanted but sent", with(prefix("/"), present("x-canary", false, false)), req("GET", "/", "x-canary", "1"), false, "does not match absent"},
		{"inverted present, absent", with(prefix("/"), present("x-canary", true, true)), req("GET", "/"), true, "absent, as the route wants"},
		{"inverted present, sent", with(prefix("/"), present("x-canary", true, true)), req("GET", "/", "x-canary", "1"), false, "does not match not present"},
		{"inverted exact, other value", with(prefix("/"), hdr("x-env", exact("prod"), true)), req("GET", "/", "x-env", "dev"), true, "matches not prod"},
		{"inverted exact, same value", with(prefix("/"), hdr("x-env", exact("prod"), true)), req("GET", "/", "x-env", "prod"), false, "does not match not prod"},
		// Envoy: an absent header never matches an inverted value matcher.
		{"inverted exact, absent", with(prefix("/"), hdr("x-env", exact("prod"), true)), req("GET", "/"), false, "is absent"},
		{"repeated header joined", with(prefix("/"), hdr("x-a", exact("1,2"), false)), req("GET", "/", "x-a", "1", "x-a", "2"), true, "matches 1,2"},
		{"header prefix", with(prefix("/"), hdr("x-tenant", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "acme-"}}, false)), req("GET", "/", "x-tenant", "acme-1"), true, "matches prefix acme-"},
		{"header ignore_case", with(prefix("/"), hdr("x-tenant", &matcherv3.StringMatcher{IgnoreCase: true, MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "ACME"}}, false)), req("GET", "/", "x-tenant", "acme"), true, "(any case)"},
		{"header names are case-insensitive", with(prefix("/"), present("X-Canary", true, false)), req("GET", "/", "x-canary", "1"), true, "present"},
		{"query present", withQuery(prefix("/"), qPresent), req("GET", "/?debug"), true, "debug is present"},
		{"query absent", withQuery(prefix("/"), qPresent), req("GET", "/?debugx=1"), false, "debug is absent"},
		{"query exact", withQuery(prefix("/"), qExact), req("GET", "/?format=json&format=xml"), true, "format json matches json"},
		{"query first value counts", withQuery(prefix("/"), qExact), req("GET", "/?format=xml&format=json"), false, "format xml does not match json"},
		{"query not decoded", withQuery(prefix("/"), qExact), req("GET", "/?format=js%6Fn"), false, "does not match"},
	} {
		t.Run(c.name, func(t *testing.T) {
			held, fail, err := routeMatch(c.m, c.r, regexes{})
			if err != nil {
				t.Fatal(err)
			}
			ok := fail == ""
			reason := fail
			if ok {
				reason = strings.Join(held, "; ")
			}
			if ok != c.ok || !strings.Contains(reason, c.about) {
				t.Errorf("got %v (%s), want %v (%s)", ok, reason, c.ok, c.about)
			}
		})
	}
}

func TestRouteMatchRefusesUnmodelledMatchers(t *testing.T) {
	m := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Grpc: &routev3.RouteMatch_GrpcRouteMatchOptions{}}
	if _, _, err := routeMatch(m, req("GET", "/"), regexes{}); err == nil || !strings.Contains(err.Error(), "grpc") {
		t.Fatalf("got %v, want an error naming grpc", err)
	}
}

func TestGRPCCallsHaveNoMethodHeader(t *testing.T) {
	r := &httpRequest{grpc: true, headers: map[string][]string{":path": {"/a.B/C"}, "x-bin": {"1"}, "content-type": {"application/grpc"}}}
	m := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Headers: []*routev3.HeaderMatcher{hdr(":method", exact("POST"), false)}}
	if _, fail, _ := routeMatch(m, r, regexes{}); !strings.Contains(fail, "not part of a proxyless gRPC call's metadata") {
		t.Errorf("method on gRPC: %q", fail)
	}
	m.Headers = []*routev3.HeaderMatcher{present("x-bin", true, false)}
	if _, fail, _ := routeMatch(m, r, regexes{}); fail == "" {
		t.Error("grpc-go drops -bin metadata before matching, yet it matched")
	}
}

func TestNormalizePathAndHost(t *testing.T) {
	h := hcmOf()
	for _, c := range []struct{ in, want string }{
		{"/a/../b", "/b"},
		{"/a/./b/", "/a/b/"},
		{"/a//b///c", "/a/b/c"},
		{"/%2e%2e/admin", "/admin"},
		{"/../../x", "/x"},
		{"/a/..?q=/../", "/?q=/../"},
		{`/a\..\b`, "/b"},
	} {
		if got, _, _ := normalizePath(c.in, h); got != c.want {
			t.Errorf("normalizePath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got, redirect, _ := normalizePath("/a%2Fb", h); got != "/a/b" || !redirect {
		t.Errorf("escaped slash: %q redirect=%v", got, redirect)
	}
	for _, c := range []struct {
		in   string
		port int
		want string
	}{
		{"api.example.com.", 80, "api.example.com"},
		{"api.example.com.:8080", 80, "api.example.com"},
		{"[::1]:8080", 80, "[::1]"},
		{"[::1]", 80, "[::1]"},
	} {
		if got := normalizeHost(c.in, c.port, h); got != c.want {
			t.Errorf("normalizeHost(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSelectFilterChain(t *testing.T) {
	fc := func(name string, sni ...string) *listenerv3.FilterChain {
		c := &listenerv3.FilterChain{Name: name}
		if len(sni) > 0 {
			c.FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: sni}
		}
		return c
	}
	l := &listenerv3.Listener{FilterChains: []*listenerv3.FilterChain{
		fc("api", "api.example.com"), fc("shops", "*.shop.example.com"), fc("wide", "*.example.com"), fc("default"),
	}}
	for _, c := range []struct{ sni, want string }{
		{"api.example.com", "api"},
		{"a.shop.example.com", "shops"}, // the longest wildcard
		{"www.example.com", "wide"},
		{"example.com", "default"}, // "*.example.com" needs a label before it
		{"other.net", "default"},
	} {
		if got := selectFilterChain(l, c.sni); got.GetName() != c.want {
			t.Errorf("SNI %q: chain %q, want %q", c.sni, got.GetName(), c.want)
		}
	}
	// Without a chain for the name, and no default: no chain.
	if got := selectFilterChain(&listenerv3.Listener{FilterChains: []*listenerv3.FilterChain{fc("api", "api.example.com")}}, "x.net"); got != nil {
		t.Errorf("got %v", got.GetName())
	}
}
