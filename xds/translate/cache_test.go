package translate

import (
	"sort"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cache/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// cacheRoutes returns the edge group's routes by name.
func cacheRoutes(g *Group) map[string]*routev3.Route {
	out := map[string]*routev3.Route{}
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				out[r.GetName()] = r
			}
		}
	}
	return out
}

// cacheOnRoute: no per-route config, or one that does not disable it.
func cacheOnRoute(t *testing.T, r *routev3.Route) bool {
	t.Helper()
	a := r.GetTypedPerFilterConfig()[wire.FilterCache]
	if a == nil {
		return true
	}
	fc := &routev3.FilterConfig{}
	if err := a.UnmarshalTo(fc); err != nil {
		t.Fatal(err)
	}
	return !fc.GetDisabled()
}

func headerAdded(r *routev3.Route, name string) *corev3.HeaderValueOption {
	for _, h := range r.GetResponseHeadersToAdd() {
		if h.GetHeader().GetKey() == name {
			return h
		}
	}
	return nil
}

// TestCacheRoutes: public Routes are cached (ttl only where the upstream
// sent no Cache-Control), authenticated ones only with private: false and
// then varied per consumer, everything else disables the filter; no cached
// Route passes Set-Cookie.
func TestCacheRoutes(t *testing.T) {
	rs := cacheRoutes(checkedEdge(t, "cache"))
	for name, want := range map[string]bool{"catalog": true, "user-info": true, "reports": true, "account": false, "live": false} {
		r := rs[name]
		if r == nil {
			t.Fatalf("no route %s", name)
		}
		if got := cacheOnRoute(t, r); got != want {
			t.Errorf("%s: cache on = %v, want %v", name, got, want)
		}
		if !want {
			continue
		}
		if !containsFold(r.GetResponseHeadersToRemove(), "set-cookie") {
			t.Errorf("%s: set-cookie not removed: %v", name, r.GetResponseHeadersToRemove())
		}
	}
	cc := headerAdded(rs["catalog"], "cache-control")
	if cc == nil || cc.GetHeader().GetValue() != "max-age=300" || cc.GetAppendAction() != corev3.HeaderValueOption_ADD_IF_ABSENT {
		t.Errorf("catalog: cache-control %v, want max-age=300 added only when absent", cc)
	}
	if v := headerAdded(rs["catalog"], "vary"); v != nil {
		t.Errorf("public catalog: vary %v, want the upstream's", v)
	}
	for _, name := range []string{"user-info", "reports"} {
		v := headerAdded(rs[name], "vary")
		if v == nil || v.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Fatalf("%s: vary %v, want overwritten", name, v)
		}
		if headerAdded(rs[name], "cache-control") != nil {
			t.Errorf("%s: a per-consumer route adds cache-control", name)
		}
	}
	if got := headerAdded(rs["reports"], "vary").GetHeader().GetValue(); got != "authorization, x-gatehouse-consumer, accept" {
		t.Errorf("reports: vary %q", got)
	}
}

// varyKey is Envoy's variant key of a stored response for a request
// (source/extensions/filters/http/cache/cache_headers_utils.cc,
// createVaryIdentifier): each Vary name with the request's value of it.
func varyKey(vary string, req map[string]string) string {
	names := strings.Split(vary, ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	sort.Strings(names)
	key := "vary-id\n"
	for _, n := range names {
		key += n + "\r" + req[n] + "\n"
	}
	return key
}

// TestCacheAttacks tries to get one consumer's cached answer served to
// another through the emitted configuration: two consumers of one URL,
// a client sending x-gatehouse-consumer itself, and a request without
// credentials.
func TestCacheAttacks(t *testing.T) {
	g := checkedEdge(t, "cache")
	reports := cacheRoutes(g)["reports"]
	vary := headerAdded(reports, "vary").GetHeader().GetValue()

	// Two consumers, same URL: ext_authz sets x-gatehouse-consumer before
	// the cache filter, so their variants differ.
	a := varyKey(vary, map[string]string{wire.ConsumerHeader: "acme", "accept": "application/json"})
	b := varyKey(vary, map[string]string{wire.ConsumerHeader: "globex", "accept": "application/json"})
	if a == b {
		t.Errorf("two consumers share the variant %q", a)
	}

	// A spoofed consumer header never reaches the cache: the first filter
	// removes it (and Check refuses a chain where it does not).
	var filters []*hcmv3.HttpFilter
	editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) { filters = h.GetHttpFilters() })
	hm := &headermutationv3.HeaderMutation{}
	if err := filters[0].GetTypedConfig().UnmarshalTo(hm); err != nil || filters[0].GetName() != wire.FilterHeaderMutation {
		t.Fatalf("first filter %s: %v", filters[0].GetName(), err)
	}
	removed := false
	for _, m := range hm.GetMutations().GetRequestMutations() {
		removed = removed || m.GetRemove() == wire.ConsumerHeader
	}
	if !removed {
		t.Errorf("a client-sent %s reaches the cache", wire.ConsumerHeader)
	}

	// Missing Authorization: ext_authz refuses before the cache filter
	// could answer from the cache.
	at := map[string]int{}
	for i, f := range filters {
		at[f.GetName()] = i
	}
	if at[wire.FilterCache] < at[wire.FilterExtAuthzClosed] || at[wire.FilterCache] < at[wire.FilterJWT] {
		t.Errorf("cache filter at %d, before authentication (jwt %d, ext_authz %d)", at[wire.FilterCache], at[wire.FilterJWT], at[wire.FilterExtAuthzClosed])
	}
	if at[wire.FilterCache] > at[wire.FilterTransform] {
		t.Errorf("cache filter after the transformation: it would store untransformed answers")
	}
}

// editRoute rewrites the named route of every route table of g.
func editRoute(g *Group, name string, edit func(*routev3.Route)) {
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if r.GetName() == name {
					edit(r)
				}
			}
		}
	}
}

// TestCacheCheckRules: each change that would let the cache serve one
// consumer's answer or one client's cookie to another, or skip a check on
// a hit, fails Check.
func TestCacheCheckRules(t *testing.T) {
	dropVary := func(r *routev3.Route) {
		var keep []*corev3.HeaderValueOption
		for _, h := range r.GetResponseHeadersToAdd() {
			if h.GetHeader().GetKey() != "vary" {
				keep = append(keep, h)
			}
		}
		r.ResponseHeadersToAdd = keep
	}
	runCheckEdits(t, "cache", []checkEdit{
		{name: "cookie kept", route: "catalog", edit: func(r *routev3.Route) { r.ResponseHeadersToRemove = nil }, want: "set-cookie is not in response_headers_to_remove"},
		{name: "cookie added", route: "catalog", edit: func(r *routev3.Route) {
			r.ResponseHeadersToAdd = append(r.ResponseHeadersToAdd, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "set-cookie", Value: "a=1"}})
		}, want: "the route adds set-cookie"},
		{name: "ttl over upstream", route: "catalog", edit: func(r *routev3.Route) {
			headerAdded(r, "cache-control").AppendAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		}, want: "only when absent"},
		{name: "no consumer vary", route: "reports", edit: dropVary, want: "must overwrite vary"},
		{name: "vary appended", route: "reports", edit: func(r *routev3.Route) {
			headerAdded(r, "vary").AppendAction = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
		}, want: "must overwrite vary"},
		{name: "vary without consumer", route: "reports", edit: func(r *routev3.Route) {
			headerAdded(r, "vary").Header.Value = "authorization, accept"
		}, want: "must vary on x-gatehouse-consumer"},
		{name: "ttl on consumer route", route: "reports", edit: func(r *routev3.Route) {
			r.ResponseHeadersToAdd = append(r.ResponseHeadersToAdd, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "cache-control", Value: "max-age=60"}, AppendAction: corev3.HeaderValueOption_ADD_IF_ABSENT})
		}, want: "must not add cache-control"},
		{name: "authenticated route enabled", route: "account", edit: func(r *routev3.Route) {
			delete(r.TypedPerFilterConfig, wire.FilterCache)
		}, want: "set-cookie is not in response_headers_to_remove"},
		{name: "cache before ext_authz", hcm: func(h *hcmv3.HttpConnectionManager) {
			fs := h.HttpFilters
			ci, ai := -1, -1
			for i, f := range fs {
				switch f.GetName() {
				case wire.FilterCache:
					ci = i
				case wire.FilterExtAuthzClosed:
					ai = i
				}
			}
			c := fs[ci]
			copy(fs[ai+1:ci+1], fs[ai:ci])
			fs[ai] = c
		}, want: "comes after the cache filter"},
		{name: "consumer header not stripped", hcm: func(h *hcmv3.HttpConnectionManager) {
			hm := &headermutationv3.HeaderMutation{}
			if err := h.HttpFilters[0].GetTypedConfig().UnmarshalTo(hm); err != nil {
				t.Fatal(err)
			}
			ms := hm.GetMutations().GetRequestMutations()
			out := ms[:0]
			for _, m := range ms {
				if m.GetRemove() != wire.ConsumerHeader {
					out = append(out, m)
				}
			}
			hm.Mutations.RequestMutations = out
			h.HttpFilters[0].ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(hm)}
		}, want: "removing x-gatehouse-consumer"},
		{name: "consumer not allowed in vary", hcm: func(h *hcmv3.HttpConnectionManager) {
			editCacheConfig(t, h, func(m *cachev3.CacheConfig) { m.AllowedVaryHeaders = m.AllowedVaryHeaders[:1] })
		}, want: "allowed_vary_headers must allow x-gatehouse-consumer"},
	})
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
