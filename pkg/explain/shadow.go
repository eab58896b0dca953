package explain

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Shadow is a route no request reaches: every request it matches is
// taken by an earlier route of the same virtual host.
type Shadow struct {
	Gateway string
	Client  translate.ClientKind
	Host    string // the virtual host
	Route   string // the route never reached
	By      string // the earlier route that takes its requests
}

func (s Shadow) String() string {
	return fmt.Sprintf("Gateway/%s host %s: Route/%s is never reached: Route/%s comes first and takes every request it matches",
		s.Gateway, s.Host, s.Route, s.By)
}

// Shadowed lists, sorted, every route of the Envoy groups that an earlier
// route of its virtual host shadows, with the first such route. It reads
// the translated tables in the order Envoy evaluates them (first match
// wins), so it reports what a proxy does, whatever order the policy
// model chose. The test is conservative: a route is reported only when
// the earlier one certainly matches every request it does (its header and
// query conditions are a subset of the later route's, and its path covers
// the later path), never on a guess about two regexes.
func Shadowed(groups map[translate.GroupKey]*translate.Group) []Shadow {
	var out []Shadow
	seen := map[Shadow]bool{}
	for k, g := range groups {
		if k.Client != translate.ClientEnvoy {
			continue
		}
		for _, res := range g.Routes {
			rc, ok := res.(*routev3.RouteConfiguration)
			if !ok {
				continue
			}
			for _, vh := range rc.GetVirtualHosts() {
				rs := vh.GetRoutes()
				for j := 1; j < len(rs); j++ {
					for i := 0; i < j; i++ {
						if rs[i].GetName() == rs[j].GetName() || !covers(rs[i].GetMatch(), rs[j].GetMatch()) {
							continue
						}
						s := Shadow{Gateway: k.Gateway, Client: k.Client, Host: vh.GetName(), Route: rs[j].GetName(), By: rs[i].GetName()}
						if !seen[s] {
							seen[s] = true
							out = append(out, s)
						}
						break
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// covers reports whether every request b matches is matched by a.
func covers(a, b *routev3.RouteMatch) bool {
	if a.GetRuntimeFraction() != nil || a.GetGrpc() != nil || a.GetTlsContext() != nil || len(a.GetDynamicMetadata()) > 0 || a.GetFilterState() != nil {
		return false
	}
	// A case-insensitive b (/API as well as /api) is covered only by a
	// case-insensitive a; a case-insensitive a covers more.
	if caseSensitive(a) && !caseSensitive(b) {
		return false
	}
	if !subset(a.GetHeaders(), b.GetHeaders()) || !subsetQ(a.GetQueryParameters(), b.GetQueryParameters()) {
		return false
	}
	return pathCovers(a, b)
}

func caseSensitive(m *routev3.RouteMatch) bool {
	return m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue()
}

func subset(as, bs []*routev3.HeaderMatcher) bool {
	for _, x := range as {
		if !containsEqual(bs, x) {
			return false
		}
	}
	return true
}

func subsetQ(as, bs []*routev3.QueryParameterMatcher) bool {
	for _, x := range as {
		if !containsEqual(bs, x) {
			return false
		}
	}
	return true
}

func containsEqual[T proto.Message](xs []T, x T) bool {
	for _, y := range xs {
		if proto.Equal(x, y) {
			return true
		}
	}
	return false
}

// pathCovers compares path specifiers as Envoy evaluates them (source/
// common/router/config_impl.cc: prefix and path_separated_prefix on the
// path without query, safe_regex as a full match). A case-insensitive a
// compares lower-cased.
func pathCovers(a, b *routev3.RouteMatch) bool {
	fold := func(s string) string { return s }
	if !caseSensitive(a) {
		fold = strings.ToLower
	}
	switch {
	case a.GetPrefix() != "":
		p := fold(a.GetPrefix())
		switch {
		case p == "/" && b.GetSafeRegex() != nil:
			return true // every path starts with "/"
		case b.GetPrefix() != "":
			return strings.HasPrefix(fold(b.GetPrefix()), p)
		case b.GetPath() != "":
			return strings.HasPrefix(fold(b.GetPath()), p)
		case b.GetPathSeparatedPrefix() != "":
			return strings.HasPrefix(fold(b.GetPathSeparatedPrefix()), p)
		}
	case a.GetPathSeparatedPrefix() != "":
		s := fold(a.GetPathSeparatedPrefix())
		under := func(x string) bool { return x == s || strings.HasPrefix(x, s+"/") }
		switch {
		case b.GetPath() != "":
			return under(fold(b.GetPath()))
		case b.GetPathSeparatedPrefix() != "":
			return under(fold(b.GetPathSeparatedPrefix()))
		case b.GetPrefix() != "":
			return strings.HasPrefix(fold(b.GetPrefix()), s+"/")
		}
	case a.GetPath() != "":
		return b.GetPath() != "" && fold(a.GetPath()) == fold(b.GetPath())
	case a.GetSafeRegex() != nil:
		re := a.GetSafeRegex().GetRegex()
		switch {
		case b.GetSafeRegex() != nil:
			return re == b.GetSafeRegex().GetRegex()
		case b.GetPath() != "" && caseSensitive(a):
			ok, err := regexp.MatchString("^(?:"+re+")$", b.GetPath())
			return err == nil && ok
		}
	}
	return false
}
