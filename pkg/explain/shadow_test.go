package explain

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func prefix(p string) *routev3.RouteMatch {
	return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: p}}
}

func withHeader(m *routev3.RouteMatch, name, v string) *routev3.RouteMatch {
	m.Headers = append(m.Headers, &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}}}})
	return m
}

// TestShadowed: each pair says whether the first route shadows the second
// in one virtual host; the conservative cases (an earlier route with a
// condition the later one lacks, a case-sensitive prefix before a
// case-insensitive one, two different regexes) are never reported.
func TestShadowed(t *testing.T) {
	regex := func(r string) *routev3.RouteMatch {
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: r}}}
	}
	exact := func(p string) *routev3.RouteMatch {
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: p}}
	}
	seg := func(p string) *routev3.RouteMatch {
		return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: p}}
	}
	insensitive := func(m *routev3.RouteMatch) *routev3.RouteMatch { m.CaseSensitive = wrapperspb.Bool(false); return m }
	for _, tc := range []struct {
		name   string
		a, b   *routev3.RouteMatch
		shadow bool
	}{
		{"catch-all before regex", prefix("/"), regex("/v[0-9]+/.*"), true},
		{"prefix before longer prefix", prefix("/api"), prefix("/api/v1"), true},
		{"prefix before exact under it", prefix("/api"), exact("/api/x"), true},
		{"prefix before exact elsewhere", prefix("/api"), exact("/web"), false},
		{"segments before exact inside", seg("/api"), exact("/api/x"), true},
		{"segments before exact beside", seg("/api"), exact("/apix"), false},
		{"segments before prefix beside", seg("/api"), prefix("/apix"), false},
		{"regex before exact it matches", regex("/item/[0-9]+"), exact("/item/42"), true},
		{"regex before exact it does not match", regex("/item/[0-9]+"), exact("/item/x"), false},
		{"different regexes", regex("/a.*"), regex("/ab.*"), false},
		{"prefix / before regex with header", prefix("/"), withHeader(regex("/x"), "x-v", "1"), true},
		{"header route before plain", withHeader(prefix("/"), "x-v", "1"), prefix("/api"), false},
		{"same header", withHeader(prefix("/"), "x-v", "1"), withHeader(prefix("/api"), "x-v", "1"), true},
		{"other header value", withHeader(prefix("/"), "x-v", "1"), withHeader(prefix("/api"), "x-v", "2"), false},
		{"sensitive before insensitive", prefix("/api"), insensitive(prefix("/api/v1")), false},
		{"insensitive before sensitive", insensitive(prefix("/API")), prefix("/api/v1"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &routev3.RouteConfiguration{Name: "rc", VirtualHosts: []*routev3.VirtualHost{{Name: "h", Domains: []string{"h"}, Routes: []*routev3.Route{
				{Name: "first", Match: tc.a}, {Name: "second", Match: tc.b},
			}}}}
			groups := map[translate.GroupKey]*translate.Group{
				{Gateway: "gw", Client: translate.ClientEnvoy}: {Routes: []types.Resource{rc}},
				// Proxyless tables are not checked (grpc-go's order is Envoy's).
				{Gateway: "gw", Client: translate.ClientGRPC}: {Routes: []types.Resource{rc}},
			}
			got := Shadowed(groups)
			if !tc.shadow {
				if len(got) != 0 {
					t.Fatalf("reported %v", got)
				}
				return
			}
			want := "Gateway/gw host h: Route/second is never reached: Route/first comes first and takes every request it matches"
			if len(got) != 1 || got[0].String() != want {
				t.Fatalf("got %v, want one %q", got, want)
			}
		})
	}
}
