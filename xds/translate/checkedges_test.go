package translate

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	compressorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/compressor/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

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
