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

// TestOpenAPICheckRules: each filter change that would let a request
// around validation fails Check.
func TestOpenAPICheckRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*extprocv3.ExternalProcessor)
		want string
	}{
		{"fail open", func(m *extprocv3.ExternalProcessor) { m.FailureModeAllow = true }, "request validation must fail closed"},
		{"streamed body", func(m *extprocv3.ExternalProcessor) {
			m.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_STREAMED
		}, "request_body_mode must be BUFFERED"},
		{"no body", func(m *extprocv3.ExternalProcessor) { m.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_NONE }, "request_body_mode must be BUFFERED"},
		{"headers skipped", func(m *extprocv3.ExternalProcessor) {
			m.ProcessingMode.RequestHeaderMode = extprocv3.ProcessingMode_SKIP
		}, "must receive request headers"},
		{"trailers skipped", func(m *extprocv3.ExternalProcessor) {
			m.ProcessingMode.RequestTrailerMode = extprocv3.ProcessingMode_SKIP
		}, "request_trailer_mode must be SEND"},
		{"no decision namespace", func(m *extprocv3.ExternalProcessor) { m.MetadataOptions = nil }, "must list gatehouse.openapi"},
		{"other processor", func(m *extprocv3.ExternalProcessor) { m.GrpcService.InitialMetadata[0].Value = "waf" }, `want "openapi"`},
		{"filter-wide validation", func(m *extprocv3.ExternalProcessor) {
			m.GrpcService.InitialMetadata = append(m.GrpcService.InitialMetadata, &corev3.HeaderValue{Key: wire.OpenAPIPolicyMetadataKey, Value: "Route/petstore"})
		}, "chosen per route"},
		{"other cluster", func(m *extprocv3.ExternalProcessor) {
			m.GrpcService.GetEnvoyGrpc().ClusterName = "svc/web"
		}, "external processing cluster"},
		{"response validated in parts", responseModes(extprocv3.ProcessingMode_SEND, extprocv3.ProcessingMode_BUFFERED_PARTIAL, extprocv3.ProcessingMode_SEND), "response validation needs the whole response"},
		{"response without its body", responseModes(extprocv3.ProcessingMode_SEND, extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_SEND), "response validation needs the whole response"},
		{"response without its trailers", responseModes(extprocv3.ProcessingMode_SEND, extprocv3.ProcessingMode_STREAMED, extprocv3.ProcessingMode_SKIP), "response validation needs the whole response"},
		{"response skipped, its body asked for", responseModes(extprocv3.ProcessingMode_SKIP, extprocv3.ProcessingMode_BUFFERED, extprocv3.ProcessingMode_SKIP), "must not ask for the response body or trailers"},
		{"response skipped, its trailers asked for", responseModes(extprocv3.ProcessingMode_SKIP, extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_SEND), "must not ask for the response body or trailers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := checkedEdge(t, "openapi")
			editExtProc(t, g, wire.FilterOpenAPI, tc.edit)
			if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestOpenAPIOrderCheck: validation after the WAF is required; the WAF
// moved after validation is refused.
func TestOpenAPIOrderCheck(t *testing.T) {
	g := checkedEdge(t, "openapi")
	editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
		fs := h.HttpFilters
		wi, oi := -1, -1
		for i, f := range fs {
			switch f.GetName() {
			case wire.FilterWAF:
				wi = i
			case wire.FilterOpenAPI:
				oi = i
			}
		}
		if wi < 0 || oi != wi+1 {
			t.Fatalf("want the WAF (%d) right before validation (%d)", wi, oi)
		}
		fs[wi], fs[oi] = fs[oi], fs[wi]
	})
	if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), "comes after request validation") {
		t.Fatalf("Check = %v, want the order refused", err)
	}
}

// TestOpenAPIPerRouteCheck: a route that switches the processor, names
// two validations, fails open or streams the request body is refused.
func TestOpenAPIPerRouteCheck(t *testing.T) {
	for name, edit := range map[string]func(*extprocv3.ExtProcOverrides){
		"processor switched": func(o *extprocv3.ExtProcOverrides) {
			o.GrpcInitialMetadata = append(o.GrpcInitialMetadata, &corev3.HeaderValue{Key: wire.ProcessorMetadataKey, Value: "waf"})
		},
		"two validations": func(o *extprocv3.ExtProcOverrides) {
			o.GrpcInitialMetadata = append(o.GrpcInitialMetadata, &corev3.HeaderValue{Key: wire.OpenAPIPolicyMetadataKey, Value: "Route/other"})
		},
		"fail open": func(o *extprocv3.ExtProcOverrides) { o.FailureModeAllow = wrapperspb.Bool(true) },
		"streamed": func(o *extprocv3.ExtProcOverrides) {
			o.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_STREAMED
		},
		"response body without trailers": func(o *extprocv3.ExtProcOverrides) {
			o.ProcessingMode.ResponseHeaderMode = extprocv3.ProcessingMode_SEND
			o.ProcessingMode.ResponseBodyMode = extprocv3.ProcessingMode_STREAMED
			o.ProcessingMode.ResponseTrailerMode = extprocv3.ProcessingMode_SKIP
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := checkedEdge(t, "openapi")
			edited := false
			for _, rc := range g.Routes {
				for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
					for _, r := range vh.GetRoutes() {
						a := r.GetTypedPerFilterConfig()[wire.FilterOpenAPI]
						pr := &extprocv3.ExtProcPerRoute{}
						if a == nil || a.UnmarshalTo(pr) != nil || pr.GetOverrides() == nil {
							continue
						}
						edit(pr.GetOverrides())
						r.TypedPerFilterConfig[wire.FilterOpenAPI] = mustAny(pr)
						edited = true
					}
				}
			}
			if !edited {
				t.Fatal("no validated route to edit")
			}
			if err := Check(g, clasOf(g)); err == nil {
				t.Fatal("Check passed an unsafe validation route")
			}
		})
	}
}

// TestOpenAPIOnlyWhereUsed: a Gateway without validated Routes carries no
// validation filter (Routes never pay for a processor they do not use).
func TestOpenAPIOnlyWhereUsed(t *testing.T) {
	for k, g := range translateCase(t, "waf", Options{}) {
		if k.Client != ClientEnvoy {
			continue
		}
		for _, l := range g.Listeners {
			editHCM(t, l.(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				for _, f := range h.GetHttpFilters() {
					if f.GetName() == wire.FilterOpenAPI {
						t.Errorf("%v: validation filter without a validated Route", k)
					}
				}
			})
		}
	}
}

// responseModes sets the validation filter's response processing modes.
func responseModes(headers extprocv3.ProcessingMode_HeaderSendMode, body extprocv3.ProcessingMode_BodySendMode, trailers extprocv3.ProcessingMode_HeaderSendMode) func(*extprocv3.ExternalProcessor) {
	return func(m *extprocv3.ExternalProcessor) {
		m.ProcessingMode.ResponseHeaderMode, m.ProcessingMode.ResponseBodyMode, m.ProcessingMode.ResponseTrailerMode = headers, body, trailers
	}
}

// TestOpenAPIResponseModesAccepted: response validation over the whole
// response, streamed or buffered, passes Check.
func TestOpenAPIResponseModesAccepted(t *testing.T) {
	for _, body := range []extprocv3.ProcessingMode_BodySendMode{extprocv3.ProcessingMode_STREAMED, extprocv3.ProcessingMode_BUFFERED} {
		g := checkedEdge(t, "openapi")
		editExtProc(t, g, wire.FilterOpenAPI, responseModes(extprocv3.ProcessingMode_SEND, body, extprocv3.ProcessingMode_SEND))
		if err := Check(g, clasOf(g)); err != nil {
			t.Errorf("response body %s: %v", body, err)
		}
	}
}
