package translate

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// routeFor is the route Envoy picks for a request to path with (or
// without) an upgrade header, by prefix, path and header presence: the
// matchers the waf and cache cases use. A request that is not an upgrade
// has no upgrade header when routes are matched, whatever the client sent
// (conn_manager_utility.cc mutateRequestHeaders removes it).
func routeFor(t *testing.T, g *Group, path string, upgrade bool) *routev3.Route {
	t.Helper()
	var got *routev3.Route
	eachRoute(g, func(_ string, r *routev3.Route) {
		if got != nil {
			return
		}
		m := r.GetMatch()
		switch {
		case m.GetPrefix() != "" && !strings.HasPrefix(path, m.GetPrefix()):
			return
		case m.GetPath() != "" && m.GetPath() != path:
			return
		case m.GetPrefix() == "" && m.GetPath() == "":
			return
		}
		for _, h := range m.GetHeaders() {
			if h.GetName() == upgradeHeader && h.GetPresentMatch() != upgrade {
				return
			}
		}
		got = r
	})
	if got == nil {
		t.Fatalf("no route for %s (upgrade %v)", path, upgrade)
	}
	return got
}

func routeWAFMode(t *testing.T, r *routev3.Route) *extprocv3.ProcessingMode {
	t.Helper()
	pr := &extprocv3.ExtProcPerRoute{}
	if err := r.GetTypedPerFilterConfig()[wire.FilterWAF].UnmarshalTo(pr); err != nil {
		t.Fatal(err)
	}
	if pr.GetDisabled() {
		t.Fatalf("route %s: the WAF is disabled", r.GetName())
	}
	return pr.GetOverrides().GetProcessingMode()
}

// TestUpgradeRequestHeadersStillInspected: on a WebSocket Route with a
// Firewall, the upgrade request goes to a route whose WAF still gets the
// request headers (an injection in a header of the Upgrade request is
// evaluated and refused) and asks for no body (the handshake is not held).
func TestUpgradeRequestHeadersStillInspected(t *testing.T) {
	g := checkedEdge(t, "upgrade-inspect")
	for _, path := range []string{"/chat", "/live/x"} {
		r := routeFor(t, g, path, true)
		if len(r.GetRoute().GetUpgradeConfigs()) == 0 {
			t.Errorf("%s: the upgrade request reaches a route without upgrade_configs", path)
		}
		m := routeWAFMode(t, r)
		if m.GetRequestHeaderMode() != extprocv3.ProcessingMode_SEND {
			t.Errorf("%s: upgrade request headers not sent to the WAF: %v", path, m)
		}
		if m.GetRequestBodyMode() != extprocv3.ProcessingMode_NONE || m.GetResponseBodyMode() != extprocv3.ProcessingMode_NONE {
			t.Errorf("%s: upgrade route asks the WAF for a body: %v", path, m)
		}
	}
}

// TestOrdinaryAndSpoofedUpgradeBodiesInspected: a request without an
// upgrade (including one whose client wrote Upgrade: websocket without
// Connection: upgrade, which Envoy strips before routing) on the same
// Route reaches the ordinary route: whole body to the WAF, and no
// upgrade_configs there, so it cannot turn itself into a tunnel.
func TestOrdinaryAndSpoofedUpgradeBodiesInspected(t *testing.T) {
	g := checkedEdge(t, "upgrade-inspect")
	for _, path := range []string{"/chat", "/live/x", "/search"} {
		r := routeFor(t, g, path, false)
		if len(r.GetRoute().GetUpgradeConfigs()) != 0 {
			t.Errorf("%s: the ordinary route enables upgrades", path)
		}
		if m := routeWAFMode(t, r); m.GetRequestBodyMode() != extprocv3.ProcessingMode_BUFFERED || m.GetRequestTrailerMode() != extprocv3.ProcessingMode_SEND {
			t.Errorf("%s: ordinary request's body not inspected whole: %v", path, m)
		}
	}
}

// TestUpgradeInspectCheckMutants: Check refuses each way around the split
// on the emitted config.
func TestUpgradeInspectCheckMutants(t *testing.T) {
	edits := []struct {
		name, want string
		edit       func(r *routev3.Route, upgrade bool) bool
	}{
		{"upgrade route matches ordinary requests", "also matches ordinary requests", onUpgrade(func(r *routev3.Route) {
			r.Match.Headers = nil
		})},
		{"upgrade route buffers the body", "must ask for no body", onUpgrade(func(r *routev3.Route) {
			editWAF(r, func(o *extprocv3.ExtProcOverrides) {
				o.ProcessingMode.RequestBodyMode = extprocv3.ProcessingMode_BUFFERED
			})
		})},
		{"upgrade route skips the request headers", "must still inspect the request headers", onUpgrade(func(r *routev3.Route) {
			editWAF(r, func(o *extprocv3.ExtProcOverrides) {
				o.ProcessingMode.RequestHeaderMode = extprocv3.ProcessingMode_SKIP
			})
		})},
		{"upgrade route does not tell the WAF the headers are all", "must be told " + wire.HeadersOnlyMetadataKey, onUpgrade(func(r *routev3.Route) {
			editWAF(r, func(o *extprocv3.ExtProcOverrides) {
				md := o.GrpcInitialMetadata
				o.GrpcInitialMetadata = md[:len(md)-1]
			})
		})},
		{"ordinary route tells the WAF the headers are all", "let its body through uninspected", onOrdinary(func(r *routev3.Route) {
			editWAF(r, func(o *extprocv3.ExtProcOverrides) {
				o.GrpcInitialMetadata = append(o.GrpcInitialMetadata, &corev3.HeaderValue{Key: wire.HeadersOnlyMetadataKey, Value: "true"})
			})
		})},
		{"ordinary route enables upgrades", "also matches ordinary requests", onOrdinary(func(r *routev3.Route) {
			r.GetRoute().UpgradeConfigs = upgradeConfigs([]string{"websocket"})
		})},
		// Envoy enables an upgrade config whose enabled field is unset
		// (route_components.proto: "If not specified, defaults to true").
		{"ordinary route enables upgrades, enabled left unset", "also matches ordinary requests", onOrdinary(func(r *routev3.Route) {
			r.GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "websocket"}}
		})},
		// Only the upgrade header, present and not inverted, keeps the
		// ordinary requests off the route.
		{"upgrade route matches another header instead", "also matches ordinary requests", onUpgrade(func(r *routev3.Route) {
			r.Match.Headers = []*routev3.HeaderMatcher{{Name: "x-upgrade", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}}
		})},
		{"upgrade route matches the upgrade header inverted", "also matches ordinary requests", onUpgrade(func(r *routev3.Route) {
			for _, h := range r.Match.Headers {
				if h.GetName() == upgradeHeader {
					h.InvertMatch = true
				}
			}
		})},
		{"upgrade route asks for request trailers", "must skip trailers", onUpgrade(func(r *routev3.Route) {
			editWAF(r, func(o *extprocv3.ExtProcOverrides) {
				o.ProcessingMode.RequestTrailerMode = extprocv3.ProcessingMode_SEND
			})
		})},
		{"upgrade route asks for response trailers", "must skip trailers", onUpgrade(func(r *routev3.Route) {
			editWAF(r, func(o *extprocv3.ExtProcOverrides) {
				o.ProcessingMode.ResponseTrailerMode = extprocv3.ProcessingMode_SEND
			})
		})},
		// A route matching only upgrade requests but enabling none is an
		// ordinary route (Envoy answers an upgrade there 403): its WAF
		// must not be told that the headers are the whole request.
		{"upgrade route loses its upgrade_configs, keeps headers only", "let its body through uninspected", onUpgrade(func(r *routev3.Route) {
			r.GetRoute().UpgradeConfigs = nil
		})},
	}
	for _, e := range edits {
		g := editedUpgradeRoute(t, "chat", wire.FilterWAF, e.edit)
		err := Check(g, clasOf(g))
		if err == nil || !strings.Contains(err.Error(), e.want) {
			t.Errorf("%s: Check says %v, want %q", e.name, err, e.want)
		}
	}
	// feed: ext_authz alone, with spdy/3.1 (an upgrade other than
	// websocket); its ordinary route enabling that upgrade, enabled left
	// unset, would buffer the tunnel's bytes.
	g := editedUpgradeRoute(t, "feed", wire.FilterExtAuthzClosed, onOrdinary(func(r *routev3.Route) {
		r.GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "spdy/3.1"}}
	}))
	if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), "would buffer the body of an upgrade other than websocket") {
		t.Errorf("feed's ordinary route enabling spdy/3.1 (enabled unset): Check says %v", err)
	}
}

// onUpgrade and onOrdinary make an edit of editedUpgradeRoute that applies
// to the upgrade route only, or to the ordinary route only.
func onUpgrade(f func(r *routev3.Route)) func(*routev3.Route, bool) bool {
	return func(r *routev3.Route, up bool) bool {
		if up {
			f(r)
		}
		return up
	}
}

func onOrdinary(f func(r *routev3.Route)) func(*routev3.Route, bool) bool {
	return func(r *routev3.Route, up bool) bool {
		if !up {
			f(r)
		}
		return !up
	}
}

// editWAF edits the overrides of r's WAF per-route config.
func editWAF(r *routev3.Route, f func(o *extprocv3.ExtProcOverrides)) {
	pr := &extprocv3.ExtProcPerRoute{}
	_ = r.TypedPerFilterConfig[wire.FilterWAF].UnmarshalTo(pr)
	f(pr.GetOverrides())
	r.TypedPerFilterConfig[wire.FilterWAF] = mustAny(pr)
}

// editedUpgradeRoute is the checked upgrade-inspect case with edit applied
// to the first route named route that has a per-route config of filter
// and for which edit returns true (given whether it is an upgrade route).
func editedUpgradeRoute(t *testing.T, route, filter string, edit func(r *routev3.Route, upgrade bool) bool) *Group {
	t.Helper()
	g := checkedEdge(t, "upgrade-inspect")
	done := false
	eachRoute(g, func(_ string, r *routev3.Route) {
		if !done && r.GetTypedPerFilterConfig()[filter] != nil && r.GetName() == route {
			done = edit(r, upgradeMatchOnly(r.GetMatch()))
		}
	})
	if !done {
		t.Fatalf("%s: nothing edited", route)
	}
	return g
}

// TestUpgradeInspectCheckAccepts: what the upgrade rules must let through:
// an upgrade switched off (enabled: false) is no upgrade, and an upgrade
// route may disable ext_authz rather than configure its body.
func TestUpgradeInspectCheckAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, route, filter string
		edit                func(r *routev3.Route, upgrade bool) bool
	}{
		{"ordinary route with websocket switched off", "chat", wire.FilterWAF, onOrdinary(func(r *routev3.Route) {
			r.GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "websocket", Enabled: wrapperspb.Bool(false)}}
		})},
		{"upgrade route disabling ext_authz", "feed", wire.FilterExtAuthzClosed, onUpgrade(func(r *routev3.Route) {
			r.TypedPerFilterConfig[wire.FilterExtAuthzClosed] = mustAny(&extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}})
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := editedUpgradeRoute(t, tc.route, tc.filter, tc.edit)
			if err := Check(g, clasOf(g)); err != nil {
				t.Fatalf("Check refused it: %v", err)
			}
		})
	}
}

// TestUpgradeRouteOtherProcessorModes: an ext_proc filter of no gatehouse
// role is held to the upgrade route's modes too (no body, no trailers):
// its own mode may buffer a body an upgraded stream never ends.
func TestUpgradeRouteOtherProcessorModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode *extprocv3.ProcessingMode
		want string // "" means Check must pass
	}{
		{"headers only", &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_NONE, ResponseBodyMode: extprocv3.ProcessingMode_NONE, RequestTrailerMode: extprocv3.ProcessingMode_SKIP, ResponseTrailerMode: extprocv3.ProcessingMode_SKIP}, ""},
		{"buffered body", &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED, RequestTrailerMode: extprocv3.ProcessingMode_SKIP, ResponseTrailerMode: extprocv3.ProcessingMode_SKIP}, "ext_proc filter test-proc on an upgrade route must ask for no body"},
		{"no mode", nil, "ext_proc filter test-proc on an upgrade route must set its processing mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := checkedEdge(t, "upgrade-inspect")
			first := g.Clusters[0].(*clusterv3.Cluster).GetName()
			editHCMs(t, g, func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters = append([]*hcmv3.HttpFilter{{Name: "test-proc", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&extprocv3.ExternalProcessor{GrpcService: grpcTo(first)})}}}, h.HttpFilters...)
			})
			n := 0
			eachRoute(g, func(_ string, r *routev3.Route) {
				if !upgradesHTTP(r) {
					return
				}
				pr := &extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}}
				if r.GetName() == "chat" {
					n++
					pr.Override = &extprocv3.ExtProcPerRoute_Overrides{Overrides: &extprocv3.ExtProcOverrides{ProcessingMode: tc.mode}}
				}
				r.TypedPerFilterConfig["test-proc"] = mustAny(pr)
			})
			if n == 0 {
				t.Fatal("no chat upgrade route")
			}
			err := Check(g, clasOf(g))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check refused a headers-only processor: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Check says %v, want %q", err, tc.want)
			}
		})
	}
}

// TestUpgradeRouteNeverCached: the cached Routes' upgrade routes disable
// the cache, and Check refuses an upgrade route that leaves it on.
func TestUpgradeRouteNeverCached(t *testing.T) {
	g := checkedEdge(t, "cache")
	n := 0
	eachRoute(g, func(_ string, r *routev3.Route) {
		if !upgradesHTTP(r) || !upgradeMatchOnly(r.GetMatch()) {
			return
		}
		fc := &routev3.FilterConfig{}
		if a := r.GetTypedPerFilterConfig()[wire.FilterCache]; a == nil || a.UnmarshalTo(fc) != nil || !fc.GetDisabled() {
			t.Errorf("route %s: upgrade route does not disable the cache", r.GetName())
		}
		if n == 0 {
			delete(r.TypedPerFilterConfig, wire.FilterCache)
		}
		n++
	})
	if n == 0 {
		t.Fatal("cache case has no upgrade route")
	}
	if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), "must disable the cache") {
		t.Errorf("Check says %v, want the cache refused on an upgrade route", err)
	}
}

// TestCustomUpgradeAuthzBody: a Route with an upgrade other than
// websocket behind ext_authz: the upgrade route never buffers a body
// (Envoy's ext_authz would wait for the tunnel's bytes), its ordinary
// route still sends the body to the authz service, and Check refuses an
// upgrade route that would buffer.
func TestCustomUpgradeAuthzBody(t *testing.T) {
	g := checkedEdge(t, "upgrade-inspect")
	seen := 0
	eachRoute(g, func(_ string, r *routev3.Route) {
		if r.GetName() != "live" {
			return
		}
		seen++
		pr := &extauthzv3.ExtAuthzPerRoute{}
		if err := r.GetTypedPerFilterConfig()[wire.FilterExtAuthzClosed].UnmarshalTo(pr); err != nil {
			t.Fatal(err)
		}
		if up := upgradeMatchOnly(r.GetMatch()); pr.GetCheckSettings().GetDisableRequestBodyBuffering() != up {
			t.Errorf("live (upgrade route %v): disable_request_body_buffering %v", up, !up)
		}
		if upgradeMatchOnly(r.GetMatch()) {
			pr.GetCheckSettings().DisableRequestBodyBuffering = false
			r.TypedPerFilterConfig[wire.FilterExtAuthzClosed] = mustAny(pr)
		}
	})
	if seen != 4 {
		t.Fatalf("live: %d routes on two listeners, want its upgrade and its ordinary route on each", seen)
	}
	// A Route split for ext_authz alone is split on every listener (the
	// decision is not taken again once the split cleared bodylessUpgrade).
	feed := map[string]int{}
	eachRoute(g, func(rc string, r *routev3.Route) {
		if r.GetName() == "feed" {
			feed[rc]++
		}
	})
	if len(feed) != 2 || feed["routes/edge/http"] != 2 || feed["routes/edge/alt"] != 2 {
		t.Errorf("feed routes per route table: %v, want 2 on each of the two listeners", feed)
	}
	if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), "would buffer the body of an upgrade other than websocket") {
		t.Errorf("Check says %v, want the buffering ext_authz refused", err)
	}
}

// TestInspectedRouteRefusesUnlistedUpgrade: a Route with the WAF that
// lists no upgrade has no upgrade_configs, so Envoy answers an upgrade
// request 403 before any byte reaches the Service (no smuggling past the
// WAF through a Service that ignores Upgrade); so does every Route of the
// waf case, whose Routes list none.
func TestInspectedRouteRefusesUnlistedUpgrade(t *testing.T) {
	g := checkedEdge(t, "upgrade-inspect")
	if r := routeFor(t, g, "/search", true); len(r.GetRoute().GetUpgradeConfigs()) != 0 || upgradeMatchOnly(r.GetMatch()) {
		t.Errorf("/search: an upgrade request reaches route %s with upgrades %v", r.GetName(), r.GetRoute().GetUpgradeConfigs())
	}
	eachRoute(checkedEdge(t, "waf"), func(_ string, r *routev3.Route) {
		if r.GetTypedPerFilterConfig()[wire.FilterWAF] != nil && upgradesHTTP(r) {
			pr := &extprocv3.ExtProcPerRoute{}
			if err := r.GetTypedPerFilterConfig()[wire.FilterWAF].UnmarshalTo(pr); err == nil && !pr.GetDisabled() {
				t.Errorf("waf: route %s runs the WAF and accepts an upgrade no Route listed", r.GetName())
			}
		}
	})
}
