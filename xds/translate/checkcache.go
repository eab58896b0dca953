package translate

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cache/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Check rules for the cache filter (cache.go says why each holds).

// cacheFilter: the in-memory store, enabled, and a Vary allow list of
// exact names that admits the headers gatehouse varies on.
func (c *checker) cacheFilter(where string, a *anypb.Any) {
	m := &cachev3.CacheConfig{}
	if !c.unmarshal(where, a, m) {
		return
	}
	if m.GetDisabled().GetValue() {
		c.fail("%s: the cache filter must not be disabled in the filter (Routes disable it)", where)
	}
	c.anyOf(where+" cache store", m.GetTypedConfig(), pointHTTPCache)
	allowed := map[string]bool{}
	for _, sm := range m.GetAllowedVaryHeaders() {
		if sm.GetExact() == "" || !sm.GetIgnoreCase() {
			c.fail("%s: allowed_vary_headers must be exact, case-insensitive header names (is %v)", where, sm)
			continue
		}
		allowed[strings.ToLower(sm.GetExact())] = true
	}
	for _, h := range cacheAlwaysVary {
		if !allowed[h] {
			c.fail("%s: allowed_vary_headers must allow %s: Routes that call ext_authz vary on it, and a response whose Vary is not allowed is served uncached", where, h)
		}
	}
}

// cacheOrder: the cache filter comes after every filter that can refuse
// a request (a hit is answered by the cache filter itself: a filter after
// it never sees the request), and the first filter removes the client's
// x-gatehouse-consumer, on which the cache keys consumers. Only the
// transformation and the gRPC-JSON transcoder (whose output, JSON under
// the REST URL, the cache stores), fault and the router may follow it.
func (c *checker) cacheOrder(where string, fs []*hcmv3.HttpFilter) {
	at := -1
	for i, f := range fs {
		if f.GetName() == wire.FilterCache {
			at = i
		}
	}
	if at < 0 {
		return
	}
	if !removesConsumerHeader(c, where, fs) {
		c.fail("%s http filter %q: the first HTTP filter must be header_mutation removing %s: the cache keys consumers on it, so a client must never set it", where, wire.FilterCache, wire.ConsumerHeader)
	}
	for _, f := range fs[at+1:] {
		t := protoreflect.FullName(strings.TrimPrefix(f.GetTypedConfig().GetTypeUrl(), "type.googleapis.com/"))
		if f.GetName() != wire.FilterTransform && t != faultType && t != routerType && t != transcoderType {
			c.fail("%s http filter %q: comes after the cache filter %q; a cached answer would skip it (only the transformation, the gRPC-JSON transcoder, fault and the router may follow)", where, f.GetName(), wire.FilterCache)
		}
	}
}

func removesConsumerHeader(c *checker, where string, fs []*hcmv3.HttpFilter) bool {
	if len(fs) == 0 || fs[0].GetName() != wire.FilterHeaderMutation {
		return false
	}
	m := &headermutationv3.HeaderMutation{}
	if !c.unmarshal(where, fs[0].GetTypedConfig(), m) {
		return false
	}
	for _, mu := range m.GetMutations().GetRequestMutations() {
		if strings.EqualFold(mu.GetRemove(), wire.ConsumerHeader) {
			return true
		}
	}
	return false
}

// cachedRoute holds a route on which the cache is on (a connection
// manager using its table has the cache filter, and the route does not
// disable it): Set-Cookie removed; a Cache-Control it adds only when
// absent (an upstream's no-store or private stands); and where ext_authz
// runs, Vary overwritten to name authorization and x-gatehouse-consumer
// and no Cache-Control added (a cache in front would not key on the
// consumer).
func (c *checker) cachedRoute(at func() string, rc string, r *routev3.Route) {
	if r.GetRoute() == nil || !c.cacheOn(rc, r.GetTypedPerFilterConfig()) {
		return
	}
	removes := false
	for _, h := range r.GetResponseHeadersToRemove() {
		removes = removes || strings.EqualFold(h, "set-cookie")
	}
	if !removes {
		c.fail("%s: the response is cached but set-cookie is not in response_headers_to_remove: one client's cookie would be served to the next", at())
	}
	authz := c.callsExtAuthz(r.GetTypedPerFilterConfig())
	var vary *corev3.HeaderValueOption
	for _, h := range r.GetResponseHeadersToAdd() {
		switch strings.ToLower(h.GetHeader().GetKey()) {
		case "set-cookie":
			c.fail("%s: the response is cached and the route adds set-cookie: one client's cookie would be served to the next", at())
		case "cache-control":
			if h.GetAppendAction() != corev3.HeaderValueOption_ADD_IF_ABSENT {
				c.fail("%s: a cached route may add cache-control only when absent (ADD_IF_ABSENT), never over the upstream's no-store or private", at())
			}
			if authz {
				c.fail("%s: a cached route that calls ext_authz must not add cache-control: a cache in front would share the answer between consumers", at())
			}
		case "vary":
			vary = h
		}
	}
	if !authz {
		return
	}
	if vary == nil || vary.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
		c.fail("%s: a cached route that calls ext_authz must overwrite vary (OVERWRITE_IF_EXISTS_OR_ADD) with %s: the cache would otherwise serve one consumer's answer to another", at(), strings.Join(cacheAlwaysVary, ", "))
		return
	}
	names := map[string]bool{}
	for _, v := range strings.Split(vary.GetHeader().GetValue(), ",") {
		names[strings.ToLower(strings.TrimSpace(v))] = true
	}
	for _, h := range cacheAlwaysVary {
		if !names[h] {
			c.fail("%s: a cached route that calls ext_authz must vary on %s (vary is %q)", at(), h, vary.GetHeader().GetValue())
		}
	}
}

// cacheOn reports whether the cache filter runs on a route of table rc.
func (c *checker) cacheOn(rc string, cfg map[string]*anypb.Any) bool {
	on := false
	for _, names := range c.rdsFilters[rc] {
		if _, ok := names[wire.FilterCache]; ok {
			on = true
		}
	}
	if !on {
		return false
	}
	a := cfg[wire.FilterCache]
	if a == nil {
		return true
	}
	fc := &routev3.FilterConfig{}
	return a.UnmarshalTo(fc) != nil || !fc.GetDisabled()
}

// callsExtAuthz reports whether either ext_authz filter checks requests
// on the route (a per-route config that is not disabled).
func (c *checker) callsExtAuthz(cfg map[string]*anypb.Any) bool {
	for _, n := range []string{wire.FilterExtAuthzClosed, wire.FilterExtAuthzOpen} {
		a := cfg[n]
		if a == nil {
			continue
		}
		pr := &extauthzv3.ExtAuthzPerRoute{}
		if a.UnmarshalTo(pr) != nil || !pr.GetDisabled() {
			return true
		}
	}
	return false
}
