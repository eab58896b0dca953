package translate

import (
	"regexp"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// TestStripTrailingHostDot: every Envoy HTTP connection manager strips a
// trailing dot from the host, so "api.example.com." picks the virtual host
// of "api.example.com" and not the "*" one with other routes.
func TestStripTrailingHostDot(t *testing.T) {
	n := 0
	for _, c := range []string{"basic", "https", "routing", "auth", "ratelimit", "services"} {
		for k, g := range translateCase(t, c, Options{}) {
			if k.Client != ClientEnvoy {
				continue
			}
			for _, h := range hcmsOf(t, g) {
				n++
				if !h.GetStripTrailingHostDot() {
					t.Errorf("%s %s: strip_trailing_host_dot not set", c, h.GetStatPrefix())
				}
				if !h.GetNormalizePath().GetValue() || !h.GetMergeSlashes() || h.GetPathWithEscapedSlashesAction().String() != "UNESCAPE_AND_REDIRECT" {
					t.Errorf("%s %s: path settings %v %v %v", c, h.GetStatPrefix(), h.GetNormalizePath(), h.GetMergeSlashes(), h.GetPathWithEscapedSlashesAction())
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no connection manager checked")
	}
}

// envoySeparatedPrefix is Envoy's path_separated_prefix rule
// (source/common/router/config_impl.cc, PathSeparatedPrefixRouteEntryImpl):
// the path without its query equals the prefix or continues with '/'.
func envoySeparatedPrefix(prefix, path string) bool {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

func TestSegmentPrefix(t *testing.T) {
	paths := []string{"/public", "/public/", "/public/x", "/public?a=1", "/publicadmin", "/publi", "/public.", "/public;x", "/Public/x", "/x/public", "/public/../admin", "/"}
	for _, prefix := range []string{"/public", "/a.b", "/users.v2.Users", "/a+b(c)"} {
		r := &policy.Route{Meta: policy.Meta{Name: "r"}, Spec: policy.RouteSpec{
			Match:    policy.RouteMatch{Path: policy.PathMatch{Prefix: prefix, Segments: true}},
			Backends: []policy.Backend{{Service: "s"}},
		}}
		br := buildRoute(r, map[string]*policy.Service{})
		if got := br.envoy.GetMatch().GetPathSeparatedPrefix(); got != prefix {
			t.Fatalf("%s: Envoy match %v, want path_separated_prefix", prefix, br.envoy.GetMatch())
		}
		// grpc-go has no path_separated_prefix: its regex must match the
		// same paths (grpc-go matches the whole path, as RE2 full match).
		re := regexp.MustCompile("^(?:" + br.grpc.GetMatch().GetSafeRegex().GetRegex() + ")$")
		for _, p := range append(paths, prefix, prefix+"/", prefix+"/z", prefix+"z") {
			path := p
			if i := strings.IndexAny(path, "?#"); i >= 0 {
				path = path[:i]
			}
			if re.MatchString(path) != envoySeparatedPrefix(prefix, p) {
				t.Errorf("prefix %s, path %s: gRPC regex %v, Envoy %v", prefix, p, re.MatchString(path), envoySeparatedPrefix(prefix, p))
			}
		}
	}
	// "/" with segments matches everything either way: a plain prefix.
	r := &policy.Route{Spec: policy.RouteSpec{Match: policy.RouteMatch{Path: policy.PathMatch{Prefix: "/", Segments: true}}, Backends: []policy.Backend{{Service: "s"}}}}
	if m := buildRoute(r, nil).envoy.GetMatch(); m.GetPrefix() != "/" {
		t.Errorf("segments on /: %v", m)
	}
}

// rewritePath applies a Route's path rewrite as Envoy does
// (source/common/router/config_impl.cc, finalizePathHeader): prefix_rewrite
// replaces the matched prefix; regex_rewrite rewrites the path without its
// query (RE2 global replace; Go's regexp has the same semantics for these
// patterns).
func rewritePath(t *testing.T, rt *routev3.Route, path string) string {
	t.Helper()
	ra := rt.GetRoute()
	query := ""
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i:]
	}
	switch {
	case ra.GetPrefixRewrite() != "":
		m := rt.GetMatch()
		matched := m.GetPrefix() + m.GetPathSeparatedPrefix()
		if m.GetPath() != "" || m.GetSafeRegex() != nil {
			matched = path
		}
		if !strings.HasPrefix(path, matched) {
			t.Fatalf("%s does not start with the matched %s", path, matched)
		}
		return ra.GetPrefixRewrite() + path[len(matched):] + query
	case ra.GetRegexRewrite() != nil:
		re := regexp.MustCompile(ra.GetRegexRewrite().GetPattern().GetRegex())
		return re.ReplaceAllLiteralString(path, re2Literal(t, ra.GetRegexRewrite().GetSubstitution())) + query
	}
	return path + query
}

// TestPrefixRewriteNeverDoubleSlash: a rewrite to "/" (or any rewrite
// ending in '/') of a prefix without a trailing '/' must not forward
// "//users": many upstreams treat "//x" as a different (or a host-relative)
// path.
func TestPrefixRewriteNeverDoubleSlash(t *testing.T) {
	for _, tc := range []struct {
		prefix   string
		segments bool
		rewrite  string
		in, want string
	}{
		{"/api", false, "/", "/api/users", "/users"},
		{"/api", false, "/", "/api", "/"},
		{"/api", false, "/", "/api/", "/"},
		{"/api", false, "/", "/api/users?a=/b", "/users?a=/b"},
		{"/api", true, "/", "/api/users", "/users"},
		{"/api", true, "/", "/api", "/"},
		{"/api", false, "/v2/", "/api/users", "/v2/users"},
		{"/api", false, "/v2", "/api/users", "/v2/users"},  // plain prefix_rewrite
		{"/api/", false, "/", "/api/users", "/users"},      // plain prefix_rewrite
		{"/api/", false, "/v2", "/api/users", "/v2/users"}, // not /v2users
		{"/api/", false, "/v2", "/api/", "/v2/"},
		{"/", false, "/v2", "/users", "/v2/users"},
		{"", false, "/v2", "/users?a=1", "/v2/users?a=1"},
		{"/a.b", true, "/", "/a.b/c", "/c"},
		{"/api", false, `/x\1/`, "/api/y", `/x\1/y`},
	} {
		r := &policy.Route{Meta: policy.Meta{Name: "r"}, Spec: policy.RouteSpec{
			Match:    policy.RouteMatch{Path: policy.PathMatch{Prefix: tc.prefix, Segments: tc.segments}},
			Backends: []policy.Backend{{Service: "s"}},
			Rewrite:  &policy.Rewrite{Prefix: tc.rewrite},
		}}
		rt := buildRoute(r, nil).envoy
		got := rewritePath(t, rt, tc.in)
		if got != tc.want {
			t.Errorf("prefix %s (segments %v) rewrite %s: %s -> %s, want %s", tc.prefix, tc.segments, tc.rewrite, tc.in, got, tc.want)
		}
	}
}

// re2Literal is the text an RE2 rewrite string without group references
// produces: "\\" is one backslash; "\N" would name a group.
func re2Literal(t *testing.T, sub string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(sub); i++ {
		if sub[i] != '\\' {
			b.WriteByte(sub[i])
			continue
		}
		if i+1 == len(sub) || sub[i+1] != '\\' {
			t.Fatalf("substitution %q refers to a group", sub)
		}
		b.WriteByte('\\')
		i++
	}
	return b.String()
}
