package translate

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// grpcMatch replaced a deep proto.Clone by a shallow copy: the result must
// equal what the clone gave, and the Envoy match it started from must be
// left exactly as it was (both groups hold it).
func TestGRPCMatchShallowCopyLeavesInputIntact(t *testing.T) {
	post := &routev3.HeaderMatcher{Name: ":method", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "POST"}}}}
	tenant := &routev3.HeaderMatcher{Name: "x-tenant", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}
	in := &routev3.RouteMatch{
		PathSpecifier:   &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/a.B"},
		CaseSensitive:   wrapperspb.Bool(false),
		Headers:         []*routev3.HeaderMatcher{post, tenant},
		QueryParameters: []*routev3.QueryParameterMatcher{{Name: "q"}},
	}
	orig := proto.Clone(in)

	want := proto.Clone(in).(*routev3.RouteMatch) // what the deep clone gave
	want.Headers = []*routev3.HeaderMatcher{tenant}
	want.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(?i)" + segmentRegex("/a.B")}}

	got := grpcMatch(in)
	if !proto.Equal(got, want) {
		t.Fatalf("grpcMatch = %v, want %v", got, want)
	}
	if !proto.Equal(in, orig) || len(in.Headers) != 2 || in.GetPathSeparatedPrefix() != "/a.B" {
		t.Fatalf("grpcMatch changed its input: %v, was %v", in, orig)
	}

	s := shallowMatch(in, "headers", "query_parameters")
	if len(s.Headers) != 0 || len(s.QueryParameters) != 0 || s.GetPathSeparatedPrefix() != "/a.B" || s.GetCaseSensitive() != in.GetCaseSensitive() {
		t.Fatalf("shallowMatch = %v: want every field but the skipped ones, sub-messages shared", s)
	}
}
