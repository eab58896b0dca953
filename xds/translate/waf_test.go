package translate

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// TestWAFCheckRules: each config change that would open a way around the
// firewall (or that Envoy refuses at load) fails Check.
func TestWAFCheckRules(t *testing.T) {
	cases := []struct {
		name string
		edit func(*extprocv3.ExternalProcessor)
		want string
	}{
		{"fail open", func(m *extprocv3.ExternalProcessor) { m.FailureModeAllow = true }, "the WAF must fail closed"},
		{"streamed body", func(m *extprocv3.ExternalProcessor) {
			m.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_STREAMED
		}, "request_body_mode must be BUFFERED"},
		{"no body", func(m *extprocv3.ExternalProcessor) { m.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_NONE }, "request_body_mode must be BUFFERED"},
		{"trailers skipped", func(m *extprocv3.ExternalProcessor) {
			m.ProcessingMode.RequestTrailerMode = extprocv3.ProcessingMode_SKIP
		}, "request_trailer_mode must be SEND"},
		{"no decision namespace", func(m *extprocv3.ExternalProcessor) { m.MetadataOptions = nil }, "must list gatehouse.waf"},
		{"other processor", func(m *extprocv3.ExternalProcessor) { m.GrpcService.InitialMetadata[0].Value = "transform" }, `want "waf"`},
		{"filter-wide Firewall", func(m *extprocv3.ExternalProcessor) {
			m.GrpcService.InitialMetadata = append(m.GrpcService.InitialMetadata, &corev3.HeaderValue{Key: wire.WAFPolicyMetadataKey, Value: "crs"})
		}, "the Firewall is chosen per route"},
		// Envoy's own load-time rules (config.cc).
		{"duplex without trailers", func(m *extprocv3.ExternalProcessor) {
			m.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED
			m.ProcessingMode.RequestTrailerMode = extprocv3.ProcessingMode_SKIP
		}, "FULL_DUPLEX_STREAMED needs request_trailer_mode SEND"},
		{"no service", func(m *extprocv3.ExternalProcessor) { m.GrpcService = nil }, "exactly one of grpc_service or http_service"},
		{"responses inspected without their trailers", responseModes(extprocv3.ProcessingMode_SEND, extprocv3.ProcessingMode_BUFFERED, extprocv3.ProcessingMode_SKIP), "needs response_body_mode BUFFERED and response_trailer_mode SEND"},
		{"responses inspected streamed", responseModes(extprocv3.ProcessingMode_SEND, extprocv3.ProcessingMode_STREAMED, extprocv3.ProcessingMode_SEND), "needs response_body_mode BUFFERED and response_trailer_mode SEND"},
		{"responses skipped, their trailers asked for", responseModes(extprocv3.ProcessingMode_SKIP, extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_SEND), "must not ask for the response body or trailers"},
		{"responses skipped, their body asked for", responseModes(extprocv3.ProcessingMode_SKIP, extprocv3.ProcessingMode_BUFFERED, extprocv3.ProcessingMode_SKIP), "must not ask for the response body or trailers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := checkedEdge(t, "waf")
			editExtProc(t, g, wire.FilterWAF, tc.edit)
			err := Check(g, clasOf(g))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestWAFOrderCheck: the WAF after ext_authz is required; moving the
// authorization after the WAF is refused.
func TestWAFOrderCheck(t *testing.T) {
	g := checkedEdge(t, "waf")
	editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
		moveAfter(t, h, wire.FilterExtAuthzClosed, wire.FilterWAF)
	})
	err := Check(g, clasOf(g))
	if err == nil || !strings.Contains(err.Error(), "runs after the WAF") {
		t.Fatalf("Check = %v, want the order refused", err)
	}
}

// TestWAFPerRouteCheck: a route that switches the processor, names two
// Firewalls or turns fail-open on is refused.
func TestWAFPerRouteCheck(t *testing.T) {
	for name, edit := range map[string]func(*extprocv3.ExtProcOverrides){
		"processor switched": func(o *extprocv3.ExtProcOverrides) {
			o.GrpcInitialMetadata = append(o.GrpcInitialMetadata, &corev3.HeaderValue{Key: wire.ProcessorMetadataKey, Value: "transform"})
		},
		"two Firewalls": func(o *extprocv3.ExtProcOverrides) {
			o.GrpcInitialMetadata = append(o.GrpcInitialMetadata, &corev3.HeaderValue{Key: wire.WAFPolicyMetadataKey, Value: "strict"})
		},
		"streamed": func(o *extprocv3.ExtProcOverrides) {
			o.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_STREAMED
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := checkedEdge(t, "waf")
			edited := false
			for _, rc := range g.Routes {
				for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
					for _, r := range vh.GetRoutes() {
						a := r.GetTypedPerFilterConfig()[wire.FilterWAF]
						pr := &extprocv3.ExtProcPerRoute{}
						if a == nil || a.UnmarshalTo(pr) != nil || pr.GetOverrides() == nil {
							continue
						}
						edit(pr.GetOverrides())
						r.TypedPerFilterConfig[wire.FilterWAF] = mustAny(pr)
						edited = true
					}
				}
			}
			if !edited {
				t.Fatal("no WAF route to edit")
			}
			if err := Check(g, clasOf(g)); err == nil {
				t.Fatal("Check passed an unsafe WAF route")
			}
		})
	}
}

// TestWAFFailureModePerRoute: only the Route whose Firewall says
// failureMode: allow fails open; every other WAF route, and the filter,
// stay fail-closed.
func TestWAFFailureModePerRoute(t *testing.T) {
	g := checkedEdge(t, "waf")
	got := map[string]bool{}
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				pr := &extprocv3.ExtProcPerRoute{}
				if a := r.GetTypedPerFilterConfig()[wire.FilterWAF]; a == nil || a.UnmarshalTo(pr) != nil || pr.GetOverrides() == nil {
					continue
				}
				got[r.GetName()] = pr.GetOverrides().GetFailureModeAllow().GetValue()
			}
		}
	}
	want := map[string]bool{"shop": false, "api": false, "search": true}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("route %s: failure_mode_allow %v (present %v), want %v", name, g, ok, w)
		}
	}
}

// TestProcessorFirstStillOrdered: the WAF or request validation moved to
// the very front of the chain (index 0) is still held to its order: the
// authorization that now runs after it is refused.
func TestProcessorFirstStillOrdered(t *testing.T) {
	for _, tc := range []struct{ edge, filter, want string }{
		{"waf", wire.FilterWAF, "runs after the WAF"},
		{"openapi", wire.FilterOpenAPI, "comes after request validation"},
	} {
		t.Run(tc.edge, func(t *testing.T) {
			g := checkedEdge(t, tc.edge)
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				for i, f := range h.HttpFilters {
					if f.GetName() == tc.filter {
						h.HttpFilters = append([]*hcmv3.HttpFilter{f}, append(h.HttpFilters[:i:i], h.HttpFilters[i+1:]...)...)
						return
					}
				}
				t.Fatalf("no filter %s", tc.filter)
			})
			if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}
