package translate

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Upgraded streams and the filters that wait for a body.
//
// After an upgrade (WebSocket or another HTTP/1.1 Upgrade token) the
// request's "body" is the upgraded protocol's bytes and never ends: the
// HTTP/1 codec enters upgrade mode when the headers complete, tells the
// parser to expect no body, and hands every byte that follows to the
// stream as body with end_stream false, even when the request carried a
// Content-Length (source/common/http/http1/codec_impl.cc,
// onHeadersCompleteBase "codec entering upgrade mode", onMessageCompleteBase
// "The upgrade payload will be treated as stream body"; envoyproxy/envoy
// issue 47081 shows a POST with a body hanging this way). Envoy's
// ext_proc in BUFFERED mode holds the headers until the body's end
// (source/extensions/filters/http/ext_proc/processor_state.cc,
// handleHeadersResponse), so a WAF or validation that buffers would hold
// the handshake until stream_idle_timeout: the upgrade never works. Taking
// the body off for the whole route would instead let every ordinary
// request's body past the WAF.
//
// So a Route that accepts upgrades and runs a filter that waits for a body
// (the WAF, request validation, a transformation, the cache) is emitted as
// two Envoy routes with the same match:
//
//  1. first, the upgrade route: the match plus "the upgrade header is
//     present", the Route's upgrade_configs, and every ext_proc filter
//     asked for headers only (request and response body modes NONE,
//     trailers SKIP): the WAF and the validator still see the upgrade
//     request's line and headers and refuse it before the upstream does;
//     the cache is off (a handshake is never answered from the cache);
//     ext_authz never buffers a body (disable_request_body_buffering).
//  2. then the ordinary route: the Route as it is, without
//     upgrade_configs, so every request that reaches it is inspected
//     whole, and an upgrade request that somehow reached it would be
//     refused (403: the route does not enable upgrades;
//     source/common/http/filter_manager.cc, createFilterChain).
//
// The split is sound because the connection manager removes the Upgrade
// and Connection headers of every request that is not an upgrade before
// the route is chosen (source/common/http/conn_manager_utility.cc,
// mutateRequestHeaders: "request_headers.removeUpgrade()" unless
// Utility::isUpgrade, i.e. Connection: upgrade and an Upgrade header):
// a client writing "Upgrade: websocket" without "Connection: upgrade"
// lands on the ordinary route with its body inspected. HTTP/2 carries no
// Upgrade header (a connection-specific header is a protocol error) and
// gatehouse does not enable extended CONNECT (upgrades.go).
//
// What is not inspected: the bytes after the upgrade request's headers,
// i.e. the WebSocket frames, both ways, and any body a client attaches to
// an upgrade request, which Envoy forwards as upgraded bytes. Check holds
// this (upgradeInspectRules): a route enabling a non-CONNECT upgrade never
// asks an ext_proc filter for a body, never caches, and, when an ext_proc
// filter runs on it, matches upgrade requests only.

// upgradeHeader is the request header the upgrade route requires.
const upgradeHeader = "upgrade"

// splitsUpgrades reports whether r is emitted as an upgrade route and an
// ordinary route (see above).
func (f *gwFilters) splitsUpgrades(r *policy.Route, p *routePolicy, cached bool) bool {
	if r.Tunnels() || r.Answers() || len(r.Upgrades(f.snap.Services)) == 0 {
		return false
	}
	if p == nil {
		p = &routePolicy{}
	}
	// ext_authz buffers a body (with_request_body) except on a WebSocket
	// upgrade (ext_authz.cc decodeHeaders: isWebSocketUpgradeRequest), so
	// a Route with another upgrade would disable body buffering for all
	// its requests (bodylessUpgrade); split, its ordinary requests keep it.
	authzBody := p.call && p.bodylessUpgrade && !p.grpcOnly
	return (f.waf && p.fw != nil) || (f.openapi && f.validation[r] != nil) || (f.xform && p.x != nil) || (f.cache && cached) || authzBody
}

// upgradeRoutes turns rt, the built route of a Route that splitsUpgrades,
// into its upgrade route and its ordinary route.
// cached: the cache filter runs on rt (no per-route config: the
// filter's own), and is disabled on the upgrade route.
func upgradeRoutes(rt *routev3.Route, cached bool) (up, plain *routev3.Route) {
	up = proto.Clone(rt).(*routev3.Route)
	// Same name and stat_prefix: it is the same policy Route, and the
	// access log's route field and the route's stats stay the Route's.
	up.Match.Headers = append(up.Match.Headers, &routev3.HeaderMatcher{
		Name:                 upgradeHeader,
		HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true},
	})
	if cached {
		if up.TypedPerFilterConfig == nil {
			up.TypedPerFilterConfig = map[string]*anyT{}
		}
		up.TypedPerFilterConfig[wire.FilterCache] = anyCacheDisabled
	}
	for k, a := range up.TypedPerFilterConfig {
		switch {
		case k == wire.FilterCache:
			up.TypedPerFilterConfig[k] = anyCacheDisabled
		case k == wire.FilterWAF || k == wire.FilterOpenAPI:
			up.TypedPerFilterConfig[k] = headersOnly(a, true)
		case k == wire.FilterTransform:
			up.TypedPerFilterConfig[k] = headersOnly(a, false)
		case k == wire.FilterExtAuthzClosed || k == wire.FilterExtAuthzOpen:
			up.TypedPerFilterConfig[k] = noAuthzBody(a)
		}
	}
	plain = proto.Clone(rt).(*routev3.Route)
	plain.GetRoute().UpgradeConfigs = nil
	return up, plain
}

// headersOnly is an ext_proc per-route config asking for no body and no
// trailers, either way; a disabled filter stays disabled. judge: the
// processor judges whole requests (the WAF: CRS's blocking evaluation,
// rule 949110, runs in phase 2, at the request's end; the validator
// checks the body at the end), so it is told by HeadersOnlyMetadataKey
// that the headers are the whole request: without it the upgrade
// request's end_of_stream is false and phase 2 would never run, letting
// an injection in a header of the upgrade request through.
func headersOnly(a *anyT, judge bool) *anyT {
	pr := &extprocv3.ExtProcPerRoute{}
	if err := a.UnmarshalTo(pr); err != nil || pr.GetDisabled() {
		return a
	}
	ov := pr.GetOverrides()
	if ov == nil {
		return a
	}
	pm := ov.GetProcessingMode()
	if pm == nil {
		pm = &extprocv3.ProcessingMode{}
		ov.ProcessingMode = pm
	}
	pm.RequestBodyMode, pm.ResponseBodyMode = extprocv3.ProcessingMode_NONE, extprocv3.ProcessingMode_NONE
	pm.RequestTrailerMode, pm.ResponseTrailerMode = extprocv3.ProcessingMode_SKIP, extprocv3.ProcessingMode_SKIP
	if judge {
		ov.GrpcInitialMetadata = append(ov.GrpcInitialMetadata, &corev3.HeaderValue{Key: wire.HeadersOnlyMetadataKey, Value: "true"})
	}
	return mustAny(pr)
}

// noAuthzBody is an ext_authz per-route config that never buffers a body.
func noAuthzBody(a *anyT) *anyT {
	pr := &extauthzv3.ExtAuthzPerRoute{}
	if err := a.UnmarshalTo(pr); err != nil || pr.GetDisabled() {
		return a
	}
	cs := pr.GetCheckSettings()
	if cs == nil {
		return a
	}
	cs.DisableRequestBodyBuffering = true
	return mustAny(pr)
}

// upgradeMatchOnly reports whether m matches only requests that carry the
// upgrade header (one present_match on it, not inverted).
func upgradeMatchOnly(m *routev3.RouteMatch) bool {
	for _, h := range m.GetHeaders() {
		if strings.EqualFold(h.GetName(), upgradeHeader) && h.GetPresentMatch() && !h.GetInvertMatch() {
			return true
		}
	}
	return false
}

// upgradesHTTP reports whether r enables an upgrade other than CONNECT
// (CONNECT routes are held by upgradeRules and policy: no processor).
func upgradesHTTP(r *routev3.Route) bool {
	for _, u := range r.GetRoute().GetUpgradeConfigs() {
		if (u.GetEnabled() == nil || u.GetEnabled().GetValue()) && !strings.EqualFold(u.GetUpgradeType(), policy.UpgradeCONNECT) {
			return true
		}
	}
	return false
}

// bodylessUpgradeRoute reports whether r enables an upgrade other than
// WebSocket (CONNECT included): ext_authz would buffer its body.
func bodylessUpgradeRoute(r *routev3.Route) bool {
	for _, u := range r.GetRoute().GetUpgradeConfigs() {
		if (u.GetEnabled() == nil || u.GetEnabled().GetValue()) && !strings.EqualFold(u.GetUpgradeType(), policy.UpgradeWebSocket) {
			return true
		}
	}
	return false
}

// authzBodyRules: on a route enabling an upgrade other than WebSocket,
// every ext_authz filter is disabled or never buffers a body. Envoy's
// ext_authz skips buffering for WebSocket upgrades only (source/
// extensions/filters/http/ext_authz/ext_authz.cc, decodeHeaders:
// buffer_data_ is false for isWebSocketUpgradeRequest and
// isH2UpgradeRequest, or disable_request_body_buffering); for any other
// upgrade or CONNECT it would wait for the end of a body that is the
// tunnel's bytes, which the client sends only after the 101 or 200.
func (c *checker) authzBodyRules(at func() string, rc string, r *routev3.Route) {
	if !bodylessUpgradeRoute(r) {
		return
	}
	for _, names := range c.rdsFilters[rc] {
		for _, k := range sortedKeys(names) {
			if names[k] != extAuthzType {
				continue
			}
			a := r.GetTypedPerFilterConfig()[k]
			pr := &extauthzv3.ExtAuthzPerRoute{}
			if a == nil {
				c.fail("%s: a route with an upgrade other than websocket must configure ext_authz filter %q (disabled, or disable_request_body_buffering): its own with_request_body would wait for the tunnel's bytes", at(), k)
				continue
			}
			if !c.unmarshal(at()+" typed_per_filter_config "+k, a, pr) || pr.GetDisabled() {
				continue
			}
			if !pr.GetCheckSettings().GetDisableRequestBodyBuffering() {
				c.fail("%s: ext_authz filter %q would buffer the body of an upgrade other than websocket, which never ends: set check_settings.disable_request_body_buffering", at(), k)
			}
		}
	}
}

// upgradeModeRules: an upgrade route's processor is asked for no body and
// no trailers either way (an upgraded stream's body never ends: BUFFERED
// would hold the handshake, STREAMED would hand the processor a body it
// can never judge whole), and the WAF and the validator still get the
// request headers, so the upgrade request itself is inspected.
func (c *checker) upgradeModeRules(p *processorFilter, where string, pm *extprocv3.ProcessingMode) {
	if pm == nil {
		c.fail("%s: %s on an upgrade route must set its processing mode (headers only); the filter's own mode would apply", where, p.what)
		return
	}
	if pm.GetRequestBodyMode() != extprocv3.ProcessingMode_NONE || pm.GetResponseBodyMode() != extprocv3.ProcessingMode_NONE {
		c.fail("%s: %s on an upgrade route must ask for no body (request %s, response %s): an upgraded stream's body never ends, and a buffered body holds the handshake forever", where, p.what, pm.GetRequestBodyMode(), pm.GetResponseBodyMode())
	}
	if pm.GetRequestTrailerMode() == extprocv3.ProcessingMode_SEND || pm.GetResponseTrailerMode() == extprocv3.ProcessingMode_SEND {
		c.fail("%s: %s on an upgrade route must skip trailers: an upgraded stream has none", where, p.what)
	}
	if p.filter != wire.FilterTransform && pm.GetRequestHeaderMode() == extprocv3.ProcessingMode_SKIP {
		c.fail("%s: %s on an upgrade route must still inspect the request headers (request_header_mode SEND): the upgrade request is a request", where, p.what)
	}
}

// upgradeInspectRules: a route enabling an upgrade other than CONNECT
// never asks a filter for a body it cannot have and never lets ordinary
// requests past body inspection. Every ext_proc filter of its connection
// managers is disabled on it or configured for it (a missing per-route
// config leaves the filter's own mode, which may buffer); when one runs,
// the route matches upgrade requests only (the upgrade header present:
// the connection manager removes it from every other request before
// routing, conn_manager_utility.cc mutateRequestHeaders), so the ordinary
// requests go to a route that inspects their bodies; and the cache is off.
func (c *checker) upgradeInspectRules(at func() string, rc string, r *routev3.Route) {
	if !upgradesHTTP(r) {
		return
	}
	cfg := r.GetTypedPerFilterConfig()
	if c.cacheOn(rc, cfg) {
		c.fail("%s: a route that accepts upgrades must disable the cache: an upgrade request must never be answered from it", at())
	}
	for _, names := range c.rdsFilters[rc] {
		for _, k := range sortedKeys(names) {
			if names[k] != extProcType {
				continue
			}
			a := cfg[k]
			if a == nil {
				c.fail("%s: a route that accepts upgrades must configure or disable ext_proc filter %q: its own mode may wait for a body an upgraded stream never ends", at(), k)
				continue
			}
			pr := &extprocv3.ExtProcPerRoute{}
			if !c.unmarshal(at()+" typed_per_filter_config "+k, a, pr) || pr.GetDisabled() {
				continue
			}
			if !upgradeMatchOnly(r.GetMatch()) {
				c.fail("%s: ext_proc filter %q runs on a route that accepts upgrades and also matches ordinary requests: either their bodies go uninspected or the upgrade hangs; match the upgrade header on an upgrade route of its own", at(), k)
			}
			if p := c.processorFilters()[k]; p == nil {
				c.upgradeModeRules(&processorFilter{filter: k, what: "ext_proc filter " + k}, at()+" typed_per_filter_config "+k, pr.GetOverrides().GetProcessingMode())
			}
		}
	}
}
