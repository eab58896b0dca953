package translate

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	rbacfv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	customheaderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/custom_header/v3"
	xffv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/xff/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

func clientIPGroup(t *testing.T, gw string) *Group {
	t.Helper()
	g := translateCase(t, "clientip", Options{})[GroupKey{gw, ClientEnvoy}]
	if g == nil {
		t.Fatalf("no envoy group for %s", gw)
	}
	return cloneGroup(g)
}

func listenerOn(t *testing.T, g *Group, port string) *listenerv3.Listener {
	t.Helper()
	for _, r := range g.Listeners {
		if l := r.(*listenerv3.Listener); strings.HasSuffix(l.GetName(), "/"+port) {
			return l
		}
	}
	t.Fatalf("no listener on %s", port)
	return nil
}

// TestClientIPCheckRules: Check refuses what Envoy would refuse (or what
// would read the PROXY header as data) in client IP settings.
func TestClientIPCheckRules(t *testing.T) {
	cases := []struct {
		name   string
		gw     string
		break_ func(t *testing.T, g *Group)
		want   string
	}{
		{"tls_inspector before proxy_protocol", "edge", func(t *testing.T, g *Group) {
			l := listenerOn(t, g, "8443")
			l.ListenerFilters[0], l.ListenerFilters[1] = l.ListenerFilters[1], l.ListenerFilters[0]
		}, "listener filter envoy.filters.listener.proxy_protocol must come first"},
		{"detection extension with use_remote_address", "cdn", func(t *testing.T, g *Group) {
			editHCM(t, listenerOn(t, g, "9080"), func(h *hcmv3.HttpConnectionManager) { h.UseRemoteAddress = wrapperspb.Bool(true) })
		}, "original IP detection extensions cannot be mixed with use_remote_address or xff_num_trusted_hops"},
		{"detection extension with trusted hops", "cdn", func(t *testing.T, g *Group) {
			editHCM(t, listenerOn(t, g, "9080"), func(h *hcmv3.HttpConnectionManager) { h.XffNumTrustedHops = 1 })
		}, "cannot be mixed"},
		{"detection extension not on the allow-list", "cdn", func(t *testing.T, g *Group) {
			editHCM(t, listenerOn(t, g, "9080"), func(h *hcmv3.HttpConnectionManager) {
				h.OriginalIpDetectionExtensions[0].TypedConfig = mustAny(&xffv3.XffConfig{XffNumTrustedHops: 1})
			})
		}, "type envoy.extensions.http.original_ip_detection.xff.v3.XffConfig is not allowed at original IP detection"},
		{"detection header Envoy's validation refuses", "cdn", func(t *testing.T, g *Group) {
			editHCM(t, listenerOn(t, g, "9080"), func(h *hcmv3.HttpConnectionManager) {
				h.OriginalIpDetectionExtensions[0].TypedConfig = mustAny(&customheaderv3.CustomHeaderConfig{HeaderName: "bad header\n"})
			})
		}, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := clientIPGroup(t, tc.gw)
			if err := Check(g, clasOf(g)); err != nil {
				t.Fatalf("unbroken group: %v", err)
			}
			tc.break_(t, g)
			err := Check(g, clasOf(g))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestClientIPConsumers: with clientIP, every consumer of the client
// address reads the detected one: RBAC matches remote_ip (never
// direct_remote_ip, the nearest proxy), remote_address keys are
// masked_remote_address, the access log's client_ip is the stream's
// remote address, and ext_authz is told to read the header the first
// filter sets (removed before the upstream). A Gateway without clientIP
// neither sets nor trusts that header.
func TestClientIPConsumers(t *testing.T) {
	for _, gw := range []string{"edge", "cdn", "l4"} {
		t.Run(gw, func(t *testing.T) {
			g := clientIPGroup(t, gw)
			detects := gw != "l4"
			for _, h := range hcmsOf(t, g) {
				hm := &headermutationv3.HeaderMutation{}
				if err := h.GetHttpFilters()[0].GetTypedConfig().UnmarshalTo(hm); err != nil {
					t.Fatal(err)
				}
				var removed, set bool
				for _, m := range hm.GetMutations().GetRequestMutations() {
					removed = removed || m.GetRemove() == wire.ClientIPHeader
					if a := m.GetAppend(); a.GetHeader().GetKey() == wire.ClientIPHeader {
						set = a.GetHeader().GetValue() == detectionFormat && a.GetAppendAction() == corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
					}
				}
				if removed != detects || set != detects {
					t.Errorf("%s: header %s removed %v set %v, want %v", h.GetStatPrefix(), wire.ClientIPHeader, removed, set, detects)
				}
				if gw == "edge" {
					for _, al := range h.GetAccessLog() {
						if !strings.Contains(al.GetTypedConfig().String(), "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%") {
							t.Errorf("%s: access log %s has no detected client_ip", h.GetStatPrefix(), al.GetName())
						}
					}
				}
			}
			for _, r := range g.Routes {
				rc := r.(*routev3.RouteConfiguration)
				hasRemove := false
				for _, h := range rc.GetRequestHeadersToRemove() {
					hasRemove = hasRemove || h == wire.ClientIPHeader
				}
				if hasRemove != detects {
					t.Errorf("%s: removes %s before the upstream: %v, want %v", rc.GetName(), wire.ClientIPHeader, hasRemove, detects)
				}
				for _, vh := range rc.GetVirtualHosts() {
					for _, rt := range vh.GetRoutes() {
						checkRouteConsumers(t, rt, detects)
					}
				}
			}
		})
	}
}

func checkRouteConsumers(t *testing.T, rt *routev3.Route, detects bool) {
	t.Helper()
	if a := rt.GetTypedPerFilterConfig()[wire.FilterRBAC]; a != nil {
		pr := &rbacfv3.RBACPerRoute{}
		if err := a.UnmarshalTo(pr); err != nil {
			t.Fatal(err)
		}
		for _, p := range pr.GetRbac().GetRules().GetPolicies() {
			for _, pc := range p.GetPrincipals() {
				if pc.GetRemoteIp() == nil || pc.GetDirectRemoteIp() != nil || pc.GetSourceIp() != nil { //nolint:staticcheck // source_ip is what must not appear
					t.Errorf("route %s: principal %v does not match remote_ip", rt.GetName(), pc)
				}
			}
		}
	}
	for _, rl := range rt.GetRoute().GetRateLimits() {
		for _, a := range rl.GetActions() {
			if a.GetRemoteAddress() != nil {
				t.Errorf("route %s: remote_address action (masked_remote_address expected)", rt.GetName())
			}
		}
	}
	for name, a := range rt.GetTypedPerFilterConfig() {
		if !strings.HasPrefix(name, "envoy.filters.http.ext_authz") {
			continue
		}
		pr := &extauthzv3.ExtAuthzPerRoute{}
		if err := a.UnmarshalTo(pr); err != nil {
			t.Fatal(err)
		}
		if pr.GetDisabled() {
			continue // this route calls no authz service
		}
		if _, ok := pr.GetCheckSettings().GetContextExtensions()[wire.CtxClientIPHeader]; ok != detects {
			t.Errorf("route %s %s: context extension %s present %v, want %v", rt.GetName(), name, wire.CtxClientIPHeader, ok, detects)
		}
	}
}
