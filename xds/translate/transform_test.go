package translate

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// transformRoutes returns the per-route transformation configs by route name.
func transformRoutes(t *testing.T, g *Group) map[string]*extprocv3.ExtProcPerRoute {
	t.Helper()
	out := map[string]*extprocv3.ExtProcPerRoute{}
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				a := r.GetTypedPerFilterConfig()[wire.FilterTransform]
				if a == nil {
					continue
				}
				pr := &extprocv3.ExtProcPerRoute{}
				if err := a.UnmarshalTo(pr); err != nil {
					t.Fatal(err)
				}
				out[vh.GetName()+"/"+r.GetName()] = pr
			}
		}
	}
	return out
}

// TestTransformModes: each Route gets only the processing its
// Transformation needs, and a Route without one disables the filter.
func TestTransformModes(t *testing.T) {
	rs := transformRoutes(t, checkedEdge(t, "transform"))
	type mode struct{ reqH, reqB, reqT, respH, respB, respT string }
	want := map[string]*mode{
		"*/user-info": {"SEND", "NONE", "SKIP", "SEND", "BUFFERED", "SEND"}, // headers in, body out
		"*/signup":    {"SEND", "BUFFERED", "SEND", "SKIP", "NONE", "SKIP"}, // body in only
		"*/orders":    {"SEND", "NONE", "SKIP", "SKIP", "NONE", "SKIP"},     // gRPC: headers only
		"*/plain":     nil,                                                  // disabled
	}
	for name, w := range want {
		pr := rs[name]
		if pr == nil {
			t.Errorf("%s: no per-route config (have %v)", name, sortedKeys(rs))
			continue
		}
		if w == nil {
			if !pr.GetDisabled() {
				t.Errorf("%s: filter not disabled: %v", name, pr)
			}
			continue
		}
		pm := pr.GetOverrides().GetProcessingMode()
		got := mode{pm.GetRequestHeaderMode().String(), pm.GetRequestBodyMode().String(), pm.GetRequestTrailerMode().String(),
			pm.GetResponseHeaderMode().String(), pm.GetResponseBodyMode().String(), pm.GetResponseTrailerMode().String()}
		if got != *w {
			t.Errorf("%s: mode %+v, want %+v", name, got, *w)
		}
		if md := pr.GetOverrides().GetGrpcInitialMetadata(); len(md) != 1 || md[0].GetKey() != wire.TransformMetadataKey {
			t.Errorf("%s: metadata %v", name, md)
		}
	}
}

// TestTransformCheckRules: each filter change that would forward an
// untransformed or emptied body, re-route after a header change, or send
// the stream elsewhere fails Check.
func TestTransformCheckRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*extprocv3.ExternalProcessor)
		want string
	}{
		{"fail open", func(m *extprocv3.ExternalProcessor) { m.FailureModeAllow = true }, "must fail closed"},
		{"re-route", func(m *extprocv3.ExternalProcessor) { m.RouteCacheAction = extprocv3.ExternalProcessor_CLEAR }, "route_cache_action RETAIN"},
		{"mode override", func(m *extprocv3.ExternalProcessor) { m.AllowModeOverride = true }, "must not let the processor change"},
		{"other processor", func(m *extprocv3.ExternalProcessor) { m.GrpcService.InitialMetadata[0].Value = "waf" }, `want "transform"`},
		{"filter-wide Transformation", func(m *extprocv3.ExternalProcessor) {
			m.GrpcService.InitialMetadata = append(m.GrpcService.InitialMetadata, &corev3.HeaderValue{Key: wire.TransformMetadataKey, Value: "user-info"})
		}, "chosen per route"},
		{"other cluster", func(m *extprocv3.ExternalProcessor) {
			m.GrpcService.TargetSpecifier = &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: wire.AuthzCluster}}
		}, "external processing cluster"},
		{"streamed body", func(m *extprocv3.ExternalProcessor) {
			m.ProcessingMode.RequestHeaderMode = extprocv3.ProcessingMode_SEND
			m.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_BUFFERED_PARTIAL
		}, "must be NONE or BUFFERED"},
		{"body without trailers", func(m *extprocv3.ExternalProcessor) {
			m.ProcessingMode.ResponseHeaderMode = extprocv3.ProcessingMode_SEND
			m.ProcessingMode.ResponseBodyMode = extprocv3.ProcessingMode_BUFFERED
		}, "response_trailer_mode SEND"},
		{"no mode", func(m *extprocv3.ExternalProcessor) { m.ProcessingMode = nil }, "explicit processing_mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := checkedEdge(t, "transform")
			editExtProc(t, g, wire.FilterTransform, tc.edit)
			err := Check(g, clasOf(g))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestTransformOrderCheck: the transformation filter follows the WAF and
// every refusing filter; moved before ext_authz (a refused request would
// cost a transformation, and authorization would judge the reshaped
// request) or before the WAF, Check refuses the chain.
func TestTransformOrderCheck(t *testing.T) {
	for _, before := range []string{wire.FilterExtAuthzClosed, wire.FilterWAF} {
		t.Run(before, func(t *testing.T) {
			g := checkedEdge(t, "transform")
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				moveAfter(t, h, before, wire.FilterTransform)
			})
			if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), "transformation filter") {
				t.Fatalf("Check = %v, want the order refused", err)
			}
		})
	}
}

// TestTransformPerRouteCheck: a route that switches the processor, names
// two Transformations, fails open or streams a body is refused.
func TestTransformPerRouteCheck(t *testing.T) {
	for name, edit := range map[string]func(*extprocv3.ExtProcOverrides){
		"processor switched": func(o *extprocv3.ExtProcOverrides) {
			o.GrpcInitialMetadata = append(o.GrpcInitialMetadata, &corev3.HeaderValue{Key: wire.ProcessorMetadataKey, Value: "waf"})
		},
		"two Transformations": func(o *extprocv3.ExtProcOverrides) {
			o.GrpcInitialMetadata = append(o.GrpcInitialMetadata, &corev3.HeaderValue{Key: wire.TransformMetadataKey, Value: "other"})
		},
		"fail open": func(o *extprocv3.ExtProcOverrides) { o.FailureModeAllow = wrapperspb.Bool(true) },
		"streamed": func(o *extprocv3.ExtProcOverrides) {
			o.ProcessingMode.ResponseBodyMode = extprocv3.ProcessingMode_STREAMED
		},
		"no trailers": func(o *extprocv3.ExtProcOverrides) {
			o.ProcessingMode.ResponseTrailerMode = extprocv3.ProcessingMode_SKIP
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := checkedEdge(t, "transform")
			edited := false
			for _, rc := range g.Routes {
				for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
					for _, r := range vh.GetRoutes() {
						if r.GetName() != "user-info" {
							continue
						}
						pr := &extprocv3.ExtProcPerRoute{}
						if err := r.GetTypedPerFilterConfig()[wire.FilterTransform].UnmarshalTo(pr); err != nil {
							t.Fatal(err)
						}
						edit(pr.GetOverrides())
						r.TypedPerFilterConfig[wire.FilterTransform] = mustAny(pr)
						edited = true
					}
				}
			}
			if !edited {
				t.Fatal("no transformation route to edit")
			}
			if err := Check(g, clasOf(g)); err == nil {
				t.Fatal("Check passed an unsafe transformation route")
			}
		})
	}
}
