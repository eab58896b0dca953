package translate

import (
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cache/v3"
	compressorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/compressor/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	uritemplatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/path/rewrite/uri_template/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Edges of Check's filter rules that no other test held, each found by a
// mutant that passed the whole suite (docs/testing.md).

// TestCompressorDisabledPerRouteAccepted: a route whose per-route
// compressor config disables it is not compressed, so it need not remove
// Accept-Encoding upstream.
func TestCompressorDisabledPerRouteAccepted(t *testing.T) {
	runCheckAccepts(t, "cdn", []checkEdit{
		{name: "raw disables gzip per route", route: "raw", edit: func(r *routev3.Route) {
			if r.TypedPerFilterConfig == nil {
				r.TypedPerFilterConfig = map[string]*anyT{}
			}
			r.TypedPerFilterConfig[wire.FilterCompressorGzip] = mustAny(&compressorv3.CompressorPerRoute{Override: &compressorv3.CompressorPerRoute_Disabled{Disabled: true}})
			r.RequestHeadersToRemove = nil
		}},
	})
}

// moveFirst moves the filter named name to the head of the chain.
func moveFirst(name string) func(*hcmv3.HttpConnectionManager) {
	return func(h *hcmv3.HttpConnectionManager) {
		fs := h.HttpFilters
		for i, f := range fs {
			if f.GetName() == name {
				copy(fs[1:i+1], fs[:i])
				fs[0] = f
				return
			}
		}
	}
}

// TestProcessorFilterOfAnotherType: a filter named as gatehouse's WAF
// whose config is not ext_proc is refused by name, not only because its
// config fails to unmarshal; the transformation first in the chain has
// every filter after it.
func TestProcessorFilterOfAnotherType(t *testing.T) {
	runCheckEdits(t, "waf", []checkEdit{
		{name: "waf filter holds a router config", hcm: func(h *hcmv3.HttpConnectionManager) {
			for _, f := range h.HttpFilters {
				if f.GetName() == wire.FilterWAF {
					f.ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})}
				}
			}
		}, want: "filter must be an ext_proc filter"},
	})
	runCheckEdits(t, "transform", []checkEdit{
		{name: "transformation first", hcm: moveFirst(wire.FilterTransform), want: "comes after the transformation filter"},
	})
}

// insertAfter puts f right after the filter named after.
func insertAfter(after string, f *hcmv3.HttpFilter) func(*hcmv3.HttpConnectionManager) {
	return func(h *hcmv3.HttpConnectionManager) {
		for i, x := range h.HttpFilters {
			if x.GetName() == after {
				h.HttpFilters = slices.Insert(h.HttpFilters, i+1, f)
				return
			}
		}
	}
}

// TestFiltersAfterProcessorsByNameAndType: after the WAF or request
// validation, the cache and the other processors are allowed by name and
// type together: a filter taking the cache's name with another config,
// or the cache's config under another name, or an ext_proc filter of no
// gatehouse role named as the transformation with another type, is
// refused.
func TestFiltersAfterProcessorsByNameAndType(t *testing.T) {
	namedCache := &hcmv3.HttpFilter{Name: wire.FilterCache, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&corsv3.Cors{})}}
	cacheElsewhere := &hcmv3.HttpFilter{Name: "other-cache", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&cachev3.CacheConfig{})}}
	namedTransform := &hcmv3.HttpFilter{Name: wire.FilterTransform, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&corsv3.Cors{})}}
	runCheckEdits(t, "openapi", []checkEdit{
		{name: "cache name, other type, after validation", hcm: insertAfter(wire.FilterOpenAPI, namedCache), want: "comes after request validation"},
		{name: "cache type, other name, after validation", hcm: insertAfter(wire.FilterOpenAPI, cacheElsewhere), want: "comes after request validation"},
	})
	runCheckEdits(t, "waf", []checkEdit{
		{name: "cache name, other type, after the WAF", hcm: insertAfter(wire.FilterWAF, namedCache), want: "after the WAF"},
		{name: "cache type, other name, after the WAF", hcm: insertAfter(wire.FilterWAF, cacheElsewhere), want: "after the WAF"},
		{name: "transformation name, other type, after the WAF", hcm: insertAfter(wire.FilterWAF, namedTransform), want: "after the WAF"},
	})
}

// TestOnlyOneRewrite: a route with a path_rewrite_policy and another
// rewrite is refused (Envoy takes only one).
func TestOnlyOneRewrite(t *testing.T) {
	runCheckEdits(t, "openapi-service", []checkEdit{
		{name: "prefix rewrite and a rewrite policy", route: "petstore-raw", edit: func(r *routev3.Route) {
			r.GetRoute().PathRewritePolicy = &corev3.TypedExtensionConfig{Name: "envoy.path.rewrite.uri_template.uri_template_rewriter",
				TypedConfig: mustAny(&uritemplatev3.UriTemplateRewriteConfig{PathTemplateRewrite: "/{x}"})}
		}, want: "Envoy takes only one of prefix_rewrite, regex_rewrite and path_rewrite_policy"},
	})
}
