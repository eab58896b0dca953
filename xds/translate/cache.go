package translate

import (
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cache/v3"
	simplecachev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/cache/simple_http_cache/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Response caching (a Route's or its Gateway's cache) is Envoy's HTTP
// cache filter with its in-memory store, one filter per connection
// manager, enabled on the Routes whose responses are cached and disabled
// (FilterConfig disabled) on every other Route.
//
// Where it sits: after every filter that can refuse a request (a cached
// answer is served only to a request that passed authentication,
// authorization, rate limits, the WAF and validation), before the
// transformation filter (so the cache holds the transformed response and a
// hit skips the transformation) and before fault and the router.
//
// How one consumer never gets another's answer, from Envoy's cache source
// (source/extensions/filters/http/cache/):
//   - a request carrying Authorization is never looked up nor stored
//     (cacheability_utils.cc, canServeRequestFromCache);
//   - the key is the URL alone (key_creator_params is not implemented in
//     the pinned API), so on a Route that calls ext_authz the route sets
//     the response's Vary itself (overwriting the upstream's) to
//     authorization and x-gatehouse-consumer plus the Route's vary list:
//     the stored variant is then keyed on the consumer ext_authz set
//     (vary handling: cache_headers_utils.cc, createVaryIdentifier).
//     Overwrite, not append: hasVary reads only the first Vary header,
//     so an empty upstream Vary ahead of gatehouse's would hide it.
//     x-gatehouse-consumer cannot come from the client: the first filter
//     removes it (removedHeaders);
//   - route response header changes are applied by the router before any
//     filter sees the response (source/common/router/router.cc,
//     onUpstreamHeaders calls finalizeResponseHeaders), so the cache
//     filter stores what they produce: Set-Cookie is removed on every
//     cached Route, and the ttl is a Cache-Control added only when absent.
//
// The filter and the simple store are work in progress in the pinned
// Envoy (unshippedExceptions lists why they are used anyway).

// anyCacheDisabled turns the cache off on a Route (Envoy: source/common/
// router/per_filter_config.cc: a FilterConfig with disabled set disables
// the filter for the route, whatever the filter supports per route).
var anyCacheDisabled = mustAny(&routev3.FilterConfig{Disabled: true})

// cacheAlwaysVary are the request headers every cache filter allows in
// Vary: the ones gatehouse varies on for Routes that call ext_authz.
var cacheAlwaysVary = []string{"authorization", wire.ConsumerHeader}

// usesCache reports whether some Route of gw is cached there, and the
// vary lists of those Routes.
func usesCache(gw *policy.Gateway, routes []*policy.Route) (bool, []string) {
	used := false
	vary := map[string]bool{}
	for _, r := range routes {
		if ok, _ := r.CachedOn(gw); !ok {
			continue
		}
		used = true
		for _, h := range r.EffectiveCache(gw).Vary {
			vary[strings.ToLower(h)] = true
		}
	}
	for _, h := range cacheAlwaysVary {
		vary[h] = true
	}
	return used, sortedKeys(vary)
}

// cacheConfig is the Gateway's cache filter: the in-memory store, the
// union of its Routes' vary lists (a response varying on another header
// is not stored) and exact, case-insensitive names.
func cacheConfig(vary []string) *anyT {
	m := make([]*matcherv3.StringMatcher, 0, len(vary))
	for _, h := range vary {
		m = append(m, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: h}, IgnoreCase: true})
	}
	return mustAny(&cachev3.CacheConfig{
		TypedConfig:        mustAny(&simplecachev3.SimpleHttpCacheConfig{}),
		AllowedVaryHeaders: m,
	})
}

// cacheRoute adds a cached Route's response header changes to rt (a copy
// of base): Set-Cookie removed, the Vary of a Route that calls ext_authz,
// and the ttl where the upstream sent no Cache-Control.
func cacheRoute(rt, base *routev3.Route, c *policy.Cache, callsAuthz bool) {
	rm := append([]string(nil), base.GetResponseHeadersToRemove()...)
	rt.ResponseHeadersToRemove = append(rm, "set-cookie")
	add := append([]*corev3.HeaderValueOption(nil), base.GetResponseHeadersToAdd()...)
	if callsAuthz {
		vary := append(append([]string(nil), cacheAlwaysVary...), c.Vary...)
		add = append(add, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: "vary", Value: strings.ToLower(strings.Join(vary, ", "))},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	if c.TTL > 0 {
		add = append(add, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: "cache-control", Value: "max-age=" + strconv.FormatInt(int64(c.TTL.D().Seconds()), 10)},
			AppendAction: corev3.HeaderValueOption_ADD_IF_ABSENT,
		})
	}
	rt.ResponseHeadersToAdd = add
}
