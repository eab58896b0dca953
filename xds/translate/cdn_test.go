package translate

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	gzipv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/compression/gzip/compressor/v3"
	compressorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/compressor/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

func cdnFilters(t *testing.T, g *Group) *hcmv3.HttpConnectionManager {
	t.Helper()
	var out *hcmv3.HttpConnectionManager
	editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) { out = proto.Clone(h).(*hcmv3.HttpConnectionManager) })
	return out
}

// compressedOn: some compressor has a per-route config that is not
// disabled (the filters are disabled in the connection manager).
func compressedOn(t *testing.T, r *routev3.Route) bool {
	t.Helper()
	for _, n := range []string{wire.FilterCompressorBrotli, wire.FilterCompressorGzip} {
		a := r.GetTypedPerFilterConfig()[n]
		if a == nil {
			continue
		}
		pr := &compressorv3.CompressorPerRoute{}
		if err := a.UnmarshalTo(pr); err != nil {
			t.Fatal(err)
		}
		if !pr.GetDisabled() {
			return true
		}
	}
	return false
}

// TestCDNRoutes: which Routes are compressed, transformed and get which
// cache headers, on the emitted configuration.
func TestCDNRoutes(t *testing.T) {
	rs := cacheRoutes(checkedEdge(t, "cdn"))
	for _, tc := range []struct {
		route      string
		compressed bool
		xform      string // "" for disabled
		cc, sc     string
	}{
		{"catalog", true, "strip-internal", "max-age=60, stale-while-revalidate=30", "max-age=600"},
		{"assets", true, "strip-internal", "public, max-age=86400, immutable", ""},
		{"account", false, "account-view", "private, max-age=30", ""},
		{"partner-feed", true, "strip-internal", "public, s-maxage=300", "max-age=300"},
		{"raw", false, "", "", ""},
	} {
		r := rs[tc.route]
		if r == nil {
			t.Fatalf("no route %s", tc.route)
		}
		if got := compressedOn(t, r); got != tc.compressed {
			t.Errorf("%s: compressed %v, want %v", tc.route, got, tc.compressed)
		}
		if got := containsFold(r.GetRequestHeadersToRemove(), "accept-encoding"); got != tc.compressed {
			t.Errorf("%s: accept-encoding removed upstream %v, want %v", tc.route, got, tc.compressed)
		}
		if got := headerAdded(r, "cache-control").GetHeader().GetValue(); got != tc.cc {
			t.Errorf("%s: cache-control %q, want %q", tc.route, got, tc.cc)
		}
		if got := headerAdded(r, "surrogate-control").GetHeader().GetValue(); got != tc.sc {
			t.Errorf("%s: surrogate-control %q, want %q", tc.route, got, tc.sc)
		}
		x := r.GetTypedPerFilterConfig()[wire.FilterTransform]
		got := ""
		if x != nil {
			got = transformNameOf(t, x)
		}
		if got != tc.xform {
			t.Errorf("%s: transformation %q, want %q", tc.route, got, tc.xform)
		}
	}
}

// TestCDNAttacks tries to get around each protection on the emitted
// configuration: an authenticated Route marked for shared caches, a
// client's Accept-Encoding turning compression on where it is off or
// handing body readers a compressed body, a refusal cached by a CDN.
func TestCDNAttacks(t *testing.T) {
	g := checkedEdge(t, "cdn")
	rs := cacheRoutes(g)
	h := cdnFilters(t, g)

	// An authenticated Route that did not say private: false is never
	// public, s-maxage or must-revalidate for a cache in front, and is
	// private; only partner-feed said so (its policy, in testdata/in/cdn).
	for name, r := range rs {
		if !callsAuthz(t, r) || name == "partner-feed" {
			continue
		}
		cc := headerAdded(r, "cache-control").GetHeader().GetValue()
		for _, d := range []string{"public", "s-maxage", "must-revalidate"} {
			if strings.Contains(cc, d) {
				t.Errorf("%s: authenticated Route says %s (%q)", name, d, cc)
			}
		}
		if cc != "" && !strings.Contains(cc, "private") && !strings.Contains(cc, "no-store") {
			t.Errorf("%s: authenticated Route's Cache-Control %q lets a shared cache store it", name, cc)
		}
		if headerAdded(r, "surrogate-control") != nil {
			t.Errorf("%s: authenticated Route tells a CDN to store it", name)
		}
		// BREACH: not compressed unless the policy says so.
		if compressedOn(t, r) {
			t.Errorf("%s: authenticated Route compressed", name)
		}
	}

	// Accept-Encoding spoofing: the compressors are disabled in the
	// connection manager, so a Route without its own enabling config
	// (raw opted out, account authenticated) never compresses, whatever
	// the client accepts; and a compressed Route's upstream never sees
	// the client's Accept-Encoding, so the WAF, validation, the cache and
	// the transformation, all after the compressors in the chain, read
	// identity bodies.
	firstReader, lastCompressor := -1, -1
	for i, f := range h.GetHttpFilters() {
		if isCompressor(f.GetName()) {
			if !f.GetDisabled() {
				t.Errorf("%s enabled in the connection manager: every Route would compress", f.GetName())
			}
			lastCompressor = i
		}
		if bodyReaders[f.GetName()] && firstReader < 0 {
			firstReader = i
		}
	}
	if lastCompressor < 0 || firstReader < lastCompressor {
		t.Errorf("filter order: last compressor %d, first body reader %d", lastCompressor, firstReader)
	}
	for _, name := range []string{"raw", "account"} {
		if compressedOn(t, rs[name]) {
			t.Errorf("%s: compressed", name)
		}
	}

	// A refusal (401 from ext_authz, 429 from a limit) carries the
	// Route's headers as a local reply; the mapper makes it no-store.
	if !proto.Equal(h.GetLocalReplyConfig(), localReplyNoStore) {
		t.Errorf("local replies are not no-store: %v", h.GetLocalReplyConfig())
	}
}

func callsAuthz(t *testing.T, r *routev3.Route) bool {
	t.Helper()
	return (&checker{}).callsExtAuthz(r.GetTypedPerFilterConfig())
}

// TestCompressionCheckRules: each change that would compress where it
// must not, hand a body reader compressed bytes, drop ETags or let a CDN
// cache a refusal fails Check.
func TestCompressionCheckRules(t *testing.T) {
	editCompressor := func(edit func(*hcmv3.HttpFilter, *compressorv3.Compressor)) func(*hcmv3.HttpConnectionManager) {
		return func(h *hcmv3.HttpConnectionManager) {
			for _, f := range h.HttpFilters {
				if f.GetName() != wire.FilterCompressorGzip {
					continue
				}
				m := &compressorv3.Compressor{}
				if err := f.GetTypedConfig().UnmarshalTo(m); err != nil {
					t.Fatal(err)
				}
				edit(f, m)
				f.ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(m)}
			}
		}
	}
	runCheckEdits(t, "cdn", []checkEdit{
		{name: "enabled everywhere", hcm: editCompressor(func(f *hcmv3.HttpFilter, _ *compressorv3.Compressor) { f.Disabled = false }), want: "must be disabled in the connection manager"},
		{name: "removes accept-encoding", hcm: editCompressor(func(_ *hcmv3.HttpFilter, m *compressorv3.Compressor) {
			m.ResponseDirectionConfig.RemoveAcceptEncodingHeader = true
		}), want: "would hide Accept-Encoding"},
		{name: "drops etag", hcm: editCompressor(func(_ *hcmv3.HttpFilter, m *compressorv3.Compressor) {
			m.ResponseDirectionConfig.WeakenEtagOnCompress = false
		}), want: "lose its strong ETag"},
		{name: "compresses ranges", hcm: editCompressor(func(_ *hcmv3.HttpFilter, m *compressorv3.Compressor) {
			m.ResponseDirectionConfig.UncompressibleResponseCodes = nil
		}), want: "206 must be uncompressible"},
		{name: "compresses requests", hcm: editCompressor(func(_ *hcmv3.HttpFilter, m *compressorv3.Compressor) {
			m.RequestDirectionConfig = &compressorv3.Compressor_RequestDirectionConfig{}
		}), want: "request compression is not used"},
		{name: "deprecated top-level fields", hcm: editCompressor(func(_ *hcmv3.HttpFilter, m *compressorv3.Compressor) {
			m.ResponseDirectionConfig = nil
		}), want: "response_direction_config must be set"},
		{name: "no minimum length", hcm: editCompressor(func(_ *hcmv3.HttpFilter, m *compressorv3.Compressor) {
			m.ResponseDirectionConfig.CommonConfig.MinContentLength = nil
		}), want: "min_content_length and content_type_matcher must be set"},
		{name: "every content type", hcm: editCompressor(func(_ *hcmv3.HttpFilter, m *compressorv3.Compressor) {
			m.ResponseDirectionConfig.CommonConfig.ContentTypeMatcher = nil
		}), want: "min_content_length and content_type_matcher must be set"},
		{name: "runtime flag", hcm: editCompressor(func(_ *hcmv3.HttpFilter, m *compressorv3.Compressor) {
			m.ResponseDirectionConfig.CommonConfig.Enabled = &corev3.RuntimeFeatureFlag{DefaultValue: wrapperspb.Bool(true), RuntimeKey: "compress"}
		}), want: "not by a runtime flag"},
		{name: "compressor after the cache", hcm: func(h *hcmv3.HttpConnectionManager) {
			fs := h.HttpFilters
			ci, gi := -1, -1
			for i, f := range fs {
				switch f.GetName() {
				case wire.FilterCache:
					ci = i
				case wire.FilterCompressorGzip:
					gi = i
				}
			}
			fs[ci], fs[gi] = fs[gi], fs[ci]
		}, want: "compressors go before every filter that reads response bodies"},
		{name: "no-store mapper dropped", hcm: func(h *hcmv3.HttpConnectionManager) { h.LocalReplyConfig = nil }, want: "does not make local replies no-store"},
		{name: "upstream compresses first", route: "catalog", edit: func(r *routev3.Route) { r.RequestHeadersToRemove = nil }, want: "must remove accept-encoding"},
		{name: "per-route library", route: "catalog", edit: func(r *routev3.Route) {
			r.TypedPerFilterConfig[wire.FilterCompressorGzip] = mustAny(&compressorv3.CompressorPerRoute{Override: &compressorv3.CompressorPerRoute_Overrides{
				Overrides: &compressorv3.CompressorOverrides{CompressorLibrary: &corev3.TypedExtensionConfig{Name: "gzip", TypedConfig: mustAny(&gzipv3.Gzip{})}, ResponseDirectionConfig: &compressorv3.ResponseDirectionOverrides{}},
			}})
		}, want: "may only enable it"},
	})
}

// transformNameOf is the Transformation a per-route ext_proc config
// names, or "" when it disables the filter.
func transformNameOf(t *testing.T, a *anyT) string {
	t.Helper()
	pr := &extprocv3.ExtProcPerRoute{}
	if err := a.UnmarshalTo(pr); err != nil {
		t.Fatal(err)
	}
	for _, md := range pr.GetOverrides().GetGrpcInitialMetadata() {
		if md.GetKey() == wire.TransformMetadataKey {
			return md.GetValue()
		}
	}
	return ""
}

// TestCompressionOrCDNAlone: a Gateway whose only per-route settings are
// compression, or only headers for a CDN (no policy, cache, CORS, ...),
// still gets its Routes decorated: the per-route state is allocated for
// either alone (a mutant allocating it only for both panicked nowhere
// else in the suite).
func TestCompressionOrCDNAlone(t *testing.T) {
	const src = `kind: Gateway
name: zip
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
  defaults:
    compression: {algorithms: [gzip]}
---
kind: Gateway
name: hdrs
spec:
  listeners: [{name: http, port: 8081, protocol: HTTP}]
  defaults:
    cdn: {cacheControl: "max-age=60"}
---
kind: Service
name: web
spec:
  discovery:
    static:
      - {address: 127.0.0.1, port: 9001}
---
kind: Route
name: zipped
spec:
  gateways: [zip]
  match: {path: {prefix: /}}
  backends: [{service: web}]
---
kind: Route
name: headed
spec:
  gateways: [hdrs]
  match: {path: {prefix: /}}
  backends: [{service: web}]
`
	groups := translateYAML(t, src)
	if r := routeNamed(t, groups[GroupKey{"zip", ClientEnvoy}], "zipped"); !compressedOn(t, r) {
		t.Errorf("zipped: not compressed: %v", r.GetTypedPerFilterConfig())
	}
	r := routeNamed(t, groups[GroupKey{"hdrs", ClientEnvoy}], "headed")
	if h := headerAdded(r, "cache-control"); h == nil || h.GetHeader().GetValue() != "max-age=60" {
		t.Errorf("headed: cache-control = %v, want max-age=60", h)
	}
}

// TestCacheHeadersAlone: a Route whose cdn block gives only
// Surrogate-Control gets that header; the local replies are made
// no-store on a Gateway exactly when some Route gets a header a cache in
// front reads from gatehouse: a cache ttl adds Cache-Control, gatehouse's
// cache without one adds nothing (the upstream's headers decide).
func TestCacheHeadersAlone(t *testing.T) {
	for _, tc := range []struct {
		name, route string
		sc          string // the surrogate-control added ("" none)
		noStore     bool
	}{
		{"surrogate-control only", "cdn: {surrogateControl: max-age=120}", "max-age=120", true},
		{"cached with a ttl", "cache: {ttl: 1m}", "", true},
		{"cached without a ttl", "cache: {vary: [Accept-Language]}", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := withDefaults("") + `---
kind: Route
name: r
spec:
  gateways: [gw]
  backends: [{service: web}]
  ` + tc.route + "\n"
			g := translateYAML(t, src)[GroupKey{"gw", ClientEnvoy}]
			r := routeNamed(t, g, "r")
			if got := headerAdded(r, "surrogate-control").GetHeader().GetValue(); got != tc.sc {
				t.Errorf("surrogate-control %q, want %q", got, tc.sc)
			}
			if got := headerAdded(r, "cache-control"); got != nil && tc.sc != "" {
				t.Errorf("cache-control %v added, none given", got)
			}
			for _, h := range hcmsOf(t, g) {
				if got := h.GetLocalReplyConfig() != nil; got != tc.noStore {
					t.Errorf("local replies no-store %v, want %v", got, tc.noStore)
				} else if got && !proto.Equal(h.GetLocalReplyConfig(), localReplyNoStore) {
					t.Errorf("local reply config %v", h.GetLocalReplyConfig())
				}
			}
			if err := Check(cloneGroup(g), clasOf(g)); err != nil {
				t.Error(err)
			}
		})
	}
}
