package translate

import (
	"path/filepath"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// TestSharedCacheCheck: the translator marks exactly the routes whose
// headers let a cache in front share answers and whose policy allows it;
// each way of making an authenticated route's answers shareable in the
// emitted config (a header added, a case or raw-value variant, a
// CDN-targeted header, the mark dropped) fails Check.
func TestSharedCacheCheck(t *testing.T) {
	g := checkedEdge(t, "cdn")
	marked := map[string]bool{}
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				marked[r.GetName()] = sharedCacheMarked(r)
			}
		}
	}
	// account requires authentication (private); partner-feed does too
	// but says private: false; catalog and assets are public; raw sets no
	// cache headers.
	for name, want := range map[string]bool{"account": false, "partner-feed": true, "catalog": true, "assets": true, "raw": false} {
		if marked[name] != want {
			t.Errorf("%s: marked %v, want %v", name, marked[name], want)
		}
	}
	add := func(k, v string, raw bool) func(*routev3.Route) {
		return func(r *routev3.Route) {
			h := &corev3.HeaderValue{Key: k, Value: v}
			if raw {
				h = &corev3.HeaderValue{Key: k, RawValue: []byte(v)}
			}
			r.ResponseHeadersToAdd = append(append([]*corev3.HeaderValueOption(nil), r.ResponseHeadersToAdd...), &corev3.HeaderValueOption{Header: h})
		}
	}
	for _, tc := range []struct {
		name, route string
		edit        func(*routev3.Route)
	}{
		{"mark dropped", "partner-feed", func(r *routev3.Route) { r.Metadata = nil }},
		{"public added", "account", add("cache-control", "public", false)},
		{"directive case and space", "account", add("Cache-Control", " max-age=5 ,PUBLIC ", false)},
		{"s-maxage in raw value", "account", add("cache-control", "s-maxage=60", true)},
		{"cdn-cache-control", "account", add("CDN-Cache-Control", "max-age=60", false)},
		{"surrogate-control", "account", add("surrogate-control", "max-age=60", false)},
		{"vendor header", "account", add("cloudflare-cdn-cache-control", "max-age=60", false)},
		{"unparsable", "account", add("cache-control", "private,,public", false)},
		{"private replaced", "account", func(r *routev3.Route) {
			hs := append([]*corev3.HeaderValueOption(nil), r.ResponseHeadersToAdd...)
			for i, h := range hs {
				if h.GetHeader().GetKey() == "cache-control" {
					hs[i] = &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "cache-control", Value: "must-revalidate, max-age=30"}, AppendAction: h.GetAppendAction()}
				}
			}
			r.ResponseHeadersToAdd = hs
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := checkedEdge(t, "cdn")
			editRoute(g, tc.route, tc.edit)
			if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), "checks its callers (ext_authz or jwt_authn)") {
				t.Fatalf("Check = %v", err)
			}
		})
	}
}

// TestCallsJWT: a jwt_authn requirement counts, a disabled one does not.
func TestCallsJWT(t *testing.T) {
	req := &routev3.Route{TypedPerFilterConfig: map[string]*anyT{wire.FilterJWT: mustAny(&jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: "a"}})}}
	off := &routev3.Route{TypedPerFilterConfig: map[string]*anyT{wire.FilterJWT: mustAny(&jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_Disabled{Disabled: true}})}}
	if !callsJWT(req) || callsJWT(off) || callsJWT(&routev3.Route{}) {
		t.Error("callsJWT")
	}
}

// TestSharedCacheMarkKeepsOtherMetadata: marking a route replaces its
// metadata with a copy that keeps every other namespace and every other
// field of gatehouse's own, and never edits the route's old metadata
// (routes are shared between tables).
func TestSharedCacheMarkKeepsOtherMetadata(t *testing.T) {
	snap, _ := loadCase(t, filepath.Join("testdata", "in", "cdn"))
	rt := proto.Clone(cacheRoutes(checkedEdge(t, "cdn"))["partner-feed"]).(*routev3.Route)
	old := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		sharedCacheMetadata: {Fields: map[string]*structpb.Value{"other": structpb.NewStringValue("kept")}},
		"elsewhere":         {Fields: map[string]*structpb.Value{"x": structpb.NewBoolValue(true)}},
	}}
	rt.Metadata = old
	sharedCacheMark(rt, snap.Routes["partner-feed"], snap.Gateways["edge"])
	if !sharedCacheMarked(rt) {
		t.Fatal("partner-feed not marked")
	}
	if got := rt.GetMetadata().GetFilterMetadata()[sharedCacheMetadata].GetFields()["other"].GetStringValue(); got != "kept" {
		t.Errorf("gatehouse.other = %q, want kept", got)
	}
	if rt.GetMetadata().GetFilterMetadata()["elsewhere"] == nil {
		t.Error("another namespace was dropped")
	}
	if _, edited := old.FilterMetadata[sharedCacheMetadata].GetFields()[sharedCacheField]; edited {
		t.Error("the route's previous metadata was edited in place")
	}
}
