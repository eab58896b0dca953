package translate

import (
	"slices"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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

// shallowMatch copies RouteMatch field by field: matchFields must be
// exactly the descriptor's fields (a oneof by its name), so that a field
// go-control-plane adds fails here instead of being dropped from the gRPC
// groups' routes; and for a match with every field set (each member of
// the path oneof in turn) the copy equals one made through protoreflect,
// with and without the skipped fields.
func TestShallowMatchCopiesEveryField(t *testing.T) {
	md := (&routev3.RouteMatch{}).ProtoReflect().Descriptor()
	var names []protoreflect.Name
	var oneofMembers []protoreflect.FieldDescriptor
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		name := fd.Name()
		if o := fd.ContainingOneof(); o != nil {
			name = o.Name()
			oneofMembers = append(oneofMembers, fd)
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	want := slices.Clone(matchFields)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("RouteMatch has fields %v; shallowMatch copies %v", names, want)
	}
	populate := func(m protoreflect.Message, fd protoreflect.FieldDescriptor) {
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			l.Append(l.NewElement())
		case fd.Message() != nil:
			m.Set(fd, protoreflect.ValueOfMessage(m.NewField(fd).Message()))
		case fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString("/x"))
		case fd.Kind() == protoreflect.BoolKind:
			m.Set(fd, protoreflect.ValueOfBool(true))
		default:
			t.Fatalf("field %s of kind %v: teach the test to set it", fd.Name(), fd.Kind())
		}
	}
	for _, member := range oneofMembers {
		src := &routev3.RouteMatch{}
		for i := 0; i < md.Fields().Len(); i++ {
			if fd := md.Fields().Get(i); fd.ContainingOneof() == nil {
				populate(src.ProtoReflect(), fd)
			}
		}
		populate(src.ProtoReflect(), member)
		for _, skip := range [][]protoreflect.Name{nil, {"headers"}, {"headers", "query_parameters"}} {
			got, want := shallowMatch(src, skip...), reflectiveMatch(src, skip...)
			if !proto.Equal(got, want) {
				t.Fatalf("%s, skipping %v: shallowMatch = %v, want %v", member.Name(), skip, got, want)
			}
		}
	}
}

// reflectiveMatch is the protoreflect copy shallowMatch replaced: the
// reference it is held to.
func reflectiveMatch(src *routev3.RouteMatch, skip ...protoreflect.Name) *routev3.RouteMatch {
	m := &routev3.RouteMatch{}
	src.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if !slices.Contains(skip, fd.Name()) {
			m.ProtoReflect().Set(fd, v)
		}
		return true
	})
	return m
}

// BenchmarkShallowMatch: the field-by-field copy against the protoreflect
// one it replaced, measured in the same run (typed/reflective).
func BenchmarkShallowMatch(b *testing.B) {
	src := &routev3.RouteMatch{
		PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/api"},
		Headers:       []*routev3.HeaderMatcher{{Name: "x-tenant"}},
		CaseSensitive: wrapperspb.Bool(false),
	}
	b.ReportAllocs()
	var typed, reflective time.Duration
	for b.Loop() {
		start := time.Now()
		_ = shallowMatch(src, "headers")
		typed += time.Since(start)
		start = time.Now()
		_ = reflectiveMatch(src, "headers")
		reflective += time.Since(start)
	}
	b.ReportMetric(float64(typed)/float64(reflective), "typed/reflective")
}
