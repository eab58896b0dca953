package translate

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// TestCORSFilterOrderCheck: Check refuses a CORS filter placed after any
// filter that can refuse a request, and accepts the translator's order.
func TestCORSFilterOrderCheck(t *testing.T) {
	web := translateCase(t, "cors", Options{})[GroupKey{"web", ClientEnvoy}]
	if err := Check(cloneGroup(web), clasOf(web)); err != nil {
		t.Fatalf("cors: %v", err)
	}
	for _, after := range []string{wire.FilterJWT, wire.FilterExtAuthzClosed, wire.FilterRateLimitAllow} {
		t.Run("after "+after, func(t *testing.T) {
			g := cloneGroup(web)
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				moveAfter(t, h, wire.FilterCORS, after)
			})
			err := Check(g, clasOf(g))
			if err == nil || !strings.Contains(err.Error(), `comes after "`+after+`", which would refuse CORS preflights`) {
				t.Fatalf("Check = %v, want the CORS order refused", err)
			}
		})
	}
}

// moveAfter leaves header_mutation, filter after, filter name and the
// router, in that order: filter after alone precedes CORS. Check may also
// report the per-route configs of the filters dropped.
func moveAfter(t *testing.T, h *hcmv3.HttpConnectionManager, name, after string) {
	t.Helper()
	by := map[string]*hcmv3.HttpFilter{}
	for _, f := range h.HttpFilters {
		by[f.GetName()] = f
	}
	for _, n := range []string{wire.FilterHeaderMutation, after, name, wire.FilterRouter} {
		if by[n] == nil {
			t.Fatalf("no filter %s", n)
		}
	}
	h.HttpFilters = []*hcmv3.HttpFilter{by[wire.FilterHeaderMutation], by[after], by[name], by[wire.FilterRouter]}
}

// TestCORSPerRoute: each Route carries its effective policy: the Gateway
// default, its own one replacing the default as a whole, or none when it
// says disabled; proxyless gRPC groups get no CORS at all.
func TestCORSPerRoute(t *testing.T) {
	groups := translateCase(t, "cors", Options{})
	got := map[string]*corsv3.CorsPolicy{}
	for _, rc := range groups[GroupKey{"web", ClientEnvoy}].Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				a := r.GetTypedPerFilterConfig()[wire.FilterCORS]
				if a == nil {
					got[r.GetName()] = nil
					continue
				}
				p := &corsv3.CorsPolicy{}
				if err := a.UnmarshalTo(p); err != nil {
					t.Fatal(err)
				}
				got[r.GetName()] = p
			}
		}
	}
	byName := func(name string) *corsv3.CorsPolicy {
		p, ok := got[name]
		if !ok {
			t.Fatalf("no route %q in %v", name, got)
		}
		return p
	}
	app, widgets := byName("app"), byName("widgets")
	if app == nil || !app.GetAllowCredentials().GetValue() || app.GetMaxAge() != "600" || len(app.GetAllowOriginStringMatch()) != 2 ||
		app.GetAllowOriginStringMatch()[1].GetSafeRegex().GetRegex() == "" || app.GetAllowMethods() != "GET, POST, PUT, DELETE" {
		t.Errorf("app: want the Gateway default, got %v", prototext.Format(app))
	}
	if widgets == nil || widgets.GetAllowCredentials() != nil || widgets.GetAllowHeaders() != "" || widgets.GetAllowMethods() != "GET" || widgets.GetMaxAge() != "3600" {
		t.Errorf("widgets: want its own policy only, got %v", prototext.Format(widgets))
	}
	if p := byName("internal-only"); p != nil {
		t.Errorf("internal-only: disabled, got %v", prototext.Format(p))
	}
	for k, g := range groups {
		if k.Client != ClientGRPC {
			continue
		}
		for _, rs := range [][]types.Resource{g.Listeners, g.Routes} {
			for _, r := range rs {
				if s := prototext.Format(r); strings.Contains(s, "cors") {
					t.Errorf("%v: proxyless gRPC group carries CORS: %s", k, s)
				}
			}
		}
	}
}

// TestCORSOriginRegexSizeChecked: a CORS origin regex is held to Envoy's
// RE2 program size limit like every other regex (Check walks the
// per-route CorsPolicy too), so a policy that loads cannot be NACKed for it.
func TestCORSOriginRegexSizeChecked(t *testing.T) {
	web := translateCase(t, "cors", Options{})[GroupKey{"web", ClientEnvoy}]
	g := cloneGroup(web)
	big := "https://(" + strings.Repeat("a", 80) + "|" + strings.Repeat("b", 80) + ")\\.example\\.com"
	var r *routev3.Route
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, x := range vh.GetRoutes() {
				if x.GetName() == "app" {
					r = x
				}
			}
		}
	}
	p := &corsv3.CorsPolicy{}
	if err := r.GetTypedPerFilterConfig()[wire.FilterCORS].UnmarshalTo(p); err != nil {
		t.Fatal(err)
	}
	p.AllowOriginStringMatch[len(p.AllowOriginStringMatch)-1].GetSafeRegex().Regex = big
	r.TypedPerFilterConfig[wire.FilterCORS] = mustAny(p)
	if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), "over Envoy's default RE2 program size limit") {
		t.Fatalf("Check = %v, want the origin regex refused for its size", err)
	}
}
