package translate

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cache/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// editCacheConfig rewrites the cache filter's config in a connection manager.
func editCacheConfig(t *testing.T, h *hcmv3.HttpConnectionManager, edit func(*cachev3.CacheConfig)) {
	t.Helper()
	for _, f := range h.HttpFilters {
		if f.GetName() != wire.FilterCache {
			continue
		}
		m := &cachev3.CacheConfig{}
		if err := f.GetTypedConfig().UnmarshalTo(m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		f.ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(m)}
	}
}

// TestCacheCheckEdges: the edges of the cache rules no other row holds
// (each found by a mutant that passed every test): a Vary allow list
// entry that is case-sensitive or not exact, the cache filter first in
// the chain, a first filter of the header-mutation type under another
// name, and a route whose per-route config names the cache without
// disabling it.
func TestCacheCheckEdges(t *testing.T) {
	runCheckEdits(t, "cache", []checkEdit{
		{name: "vary allow list case-sensitive", hcm: func(h *hcmv3.HttpConnectionManager) {
			editCacheConfig(t, h, func(m *cachev3.CacheConfig) {
				for _, sm := range m.AllowedVaryHeaders {
					sm.IgnoreCase = false
				}
			})
		}, want: "allowed_vary_headers must be exact, case-insensitive header names"},
		{name: "vary allow list by prefix", hcm: func(h *hcmv3.HttpConnectionManager) {
			editCacheConfig(t, h, func(m *cachev3.CacheConfig) {
				m.AllowedVaryHeaders = append(m.AllowedVaryHeaders, &matcherv3.StringMatcher{
					MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "x-"}, IgnoreCase: true})
			})
		}, want: "allowed_vary_headers must be exact, case-insensitive header names"},
		{name: "cache filter first", hcm: func(h *hcmv3.HttpConnectionManager) {
			fs := h.HttpFilters
			for i, f := range fs {
				if f.GetName() == wire.FilterCache {
					copy(fs[1:i+1], fs[:i])
					fs[0] = f
					break
				}
			}
		}, want: "the first HTTP filter must be header_mutation removing x-gatehouse-consumer"},
		{name: "header mutation first under another name", hcm: func(h *hcmv3.HttpConnectionManager) {
			h.HttpFilters[0].Name = "strip-consumer"
		}, want: "the first HTTP filter must be header_mutation removing x-gatehouse-consumer"},
		{name: "authenticated route names the cache, not disabled", route: "account", edit: func(r *routev3.Route) {
			r.TypedPerFilterConfig[wire.FilterCache] = mustAny(&routev3.FilterConfig{Disabled: false})
		}, want: "set-cookie is not in response_headers_to_remove"},
	})
}
