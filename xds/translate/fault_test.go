package translate

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// TestFaultFilterOrderCheck: the traffic case passes Check, and a fault
// filter anywhere but right before the router (here before ext_authz, so
// an abort could answer in place of a 401) is refused.
func TestFaultFilterOrderCheck(t *testing.T) {
	edge := translateCase(t, "traffic", Options{})[GroupKey{"edge", ClientEnvoy}]
	if err := Check(cloneGroup(edge), clasOf(edge)); err != nil {
		t.Fatalf("traffic: %v", err)
	}
	g := cloneGroup(edge)
	editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
		moveAfter(t, h, wire.FilterExtAuthzClosed, wire.FilterFault)
	})
	err := Check(g, clasOf(g))
	if err == nil || !strings.Contains(err.Error(), `http filter "envoy.filters.http.fault": the fault filter must come right before the router`) {
		t.Fatalf("Check = %v, want the fault order refused", err)
	}
}

// TestMirrorClusterCheck: a mirror naming a cluster the group lacks fails
// Check (Envoy would load it and silently drop every copy).
func TestMirrorClusterCheck(t *testing.T) {
	g := cloneGroup(translateCase(t, "traffic", Options{})[GroupKey{"edge", ClientEnvoy}])
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				for _, mp := range r.GetRoute().GetRequestMirrorPolicies() {
					mp.Cluster = "svc/nope"
				}
			}
		}
	}
	err := Check(g, clasOf(g))
	if err == nil || !strings.Contains(err.Error(), `mirror cluster "svc/nope" does not exist`) {
		t.Fatalf("Check = %v, want the missing mirror cluster refused", err)
	}
}

// TestFaultPerRoute: each Route with a fault carries exactly its own
// HTTPFault; Routes without one carry none; no fault ever reads the
// x-envoy-fault-* request headers (header_delay, header_abort), so a
// client cannot inject a fault the policy did not write. Proxyless
// clients get the fault without whenHeader only: grpc-go ignores header
// matchers.
func TestFaultPerRoute(t *testing.T) {
	groups := translateCase(t, "traffic", Options{})
	want := map[ClientKind]map[string]bool{
		ClientEnvoy: {"chaos": true, "secure": true, "grpc": true, "grpc-chaos": true, "shadowed": false},
		ClientGRPC:  {"grpc": true, "grpc-chaos": false},
	}
	for kind, routes := range want {
		got := map[string]bool{}
		for _, rc := range groups[GroupKey{"edge", kind}].Routes {
			for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
				for _, r := range vh.GetRoutes() {
					a := r.GetTypedPerFilterConfig()[wire.FilterFault]
					got[r.GetName()] = a != nil
					if a == nil {
						continue
					}
					hf := &faultv3.HTTPFault{}
					if err := a.UnmarshalTo(hf); err != nil {
						t.Fatal(err)
					}
					if hf.GetAbort().GetHeaderAbort() != nil || hf.GetDelay().GetHeaderDelay() != nil {
						t.Errorf("%s %s: a fault read from request headers: %v", kind, r.GetName(), hf)
					}
					if kind == ClientGRPC && len(hf.GetHeaders()) > 0 {
						t.Errorf("proxyless %s: header matchers, which grpc-go ignores", r.GetName())
					}
				}
			}
		}
		for name, w := range routes {
			if got[name] != w {
				t.Errorf("%s route %s: fault = %v, want %v", kind, name, got[name], w)
			}
		}
	}
}
