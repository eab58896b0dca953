package translate

import (
	"time"

	"fmt"
	"sort"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// gwFilters is what one Gateway's Routes ask of Envoy's HTTP filters
// (authentication, authorization, rate limits), worked out once per Envoy
// group. Filters and their shared configs are built once per group; only
// what differs per Route (ext_authz context extensions, descriptors naming
// the Route) is built per Route.
type gwFilters struct {
	gw   *policy.Gateway
	snap *policy.Snapshot
	opts Options

	routes map[*policy.Route]*routePolicy
	jwt    []string // JWT Authentication names used by some Route, sorted
	// login: the oauth2Login Authentications some Route uses whose
	// endpoints are known, sorted (oauth2login.go).
	login []string
	// introspect is the longest introspection timeout of the
	// oauth2Introspection Authentications some Route uses (0: none).
	introspect time.Duration

	local, rbac, authzClosed, authzOpen, rlDeny, rlAllow bool

	cors  bool // some Route has a CORS policy (cors.go)
	fault bool // some Route has a fault (fault.go)
	// transcode: some Route transcodes REST to gRPC (transcoder.go).
	transcode bool
	waf       bool // some Route runs a Firewall (waf.go)
	xform     bool // some Route runs a Transformation (transform.go)
	// cache: some Route is cached (cache.go); cacheVary is what its
	// filter allows in Vary.
	cache     bool
	cacheVary []string
	// compress: some Route is compressed (compression.go), with the
	// Gateway's compressor settings; noStore: some Route gets a
	// Cache-Control from gatehouse, so local replies get no-store (cdn.go).
	compress    bool
	compression policy.Compression
	noStore     bool
	// openapi: some Route validates requests against an OpenAPI document
	// (openapi.go); validation is each such Route's, its own or inherited.
	openapi    bool
	validation map[*policy.Route]*policy.Validation

	// Per-route configs shared between Routes, built on first use.
	jwtReq   map[string]*anyT // by requirement name
	loginCfg map[string]*anyT // OAuth2PerRoute by Authentication name
	rbacCfg  map[string]*anyT // by Authorization name
	localCfg map[string]*anyT // by RateLimit name
	rlShared map[string][]*routev3.RateLimit
	corsCfg  map[*policy.CORS]*anyT
	pathKey  *bool // see usesPathKey
	built    map[*policy.Route]*routev3.Route
	// split: the upgrade and ordinary routes of Routes that splitsUpgrades.
	split map[*policy.Route][]*routev3.Route
}

// routePolicy is one Route's effective policies on this Gateway.
type routePolicy struct {
	authn     []string // effective Authentication names, sorted, deduplicated
	jwt       []string // the JWT ones among them
	login     string   // the oauth2Login among them ("": none; policy allows one)
	authzName string
	authz     *policy.Authorization
	rlName    string
	rl        *policy.RateLimit
	fwName    string
	fw        *policy.Firewall
	xName     string
	x         *policy.Transformation
	// call: the Route needs ext_authz (any Authentication, or an
	// Authorization beyond sourceCIDRs); failOpen selects the instance.
	call, failOpen bool
	grpcOnly       bool // every backend is a gRPC Service: no body buffering
	// bodylessUpgrade: CONNECT or an upgrade other than WebSocket, whose
	// stream never ends: no body buffering either (cleared when the Route
	// is split: only its upgrade route goes without; upgradeinspect.go).
	bodylessUpgrade bool
	// stripAuthorization: one of the Route's JWT Authentications says
	// forwardToken: false, so the Authorization header is removed for the
	// upstream by the route (see authorizationRemoved).
	stripAuthorization bool
}

// resolveRoute works out a Route's effective policies on gw. Validation
// checks references, but a Snapshot built by hand may not have been
// validated: a dangling name is an error, never a silently open Route.
func resolveRoute(gw *policy.Gateway, r *policy.Route, snap *policy.Snapshot) (*routePolicy, error) {
	p := &routePolicy{}
	names := sortedCopy(r.EffectiveAuthentication(gw))
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			continue
		}
		a := snap.Authentications[n]
		if a == nil {
			return nil, fmt.Errorf("%s: Authentication/%s does not exist", r.Meta.Ref(), n)
		}
		p.authn = append(p.authn, n)
		if a.Spec.OAuth2Login != nil {
			p.login = n
		}
		if a.Spec.JWT != nil {
			p.jwt = append(p.jwt, n)
			p.stripAuthorization = p.stripAuthorization || !a.Spec.JWT.ForwardToken
		}
	}
	if n := r.Spec.Authorization; n != "" {
		a := snap.Authorizations[n]
		if a == nil {
			return nil, fmt.Errorf("%s: Authorization/%s does not exist", r.Meta.Ref(), n)
		}
		p.authzName, p.authz = n, a
		// Authentication never fails open (ENVOY-MAPPING.md): API-key
		// checks and "no credential -> 401" run in the ext_authz call, so
		// a Route that requires a credential always uses the fail-closed
		// instance, whatever its Authorization says. failOpen applies only
		// to Routes any caller may use.
		p.failOpen = a.Spec.FailOpen && len(p.authn) == 0
	}
	if n := r.EffectiveRateLimit(gw); n != "" {
		rl := snap.RateLimits[n]
		if rl == nil {
			return nil, fmt.Errorf("%s: RateLimit/%s does not exist", r.Meta.Ref(), n)
		}
		p.rlName, p.rl = n, rl
	}
	if n := r.EffectiveFirewall(gw); n != "" {
		fw := snap.Firewalls[n]
		if fw == nil {
			return nil, fmt.Errorf("%s: Firewall/%s does not exist", r.Meta.Ref(), n)
		}
		p.fwName, p.fw = n, fw
	}
	if n := r.EffectiveTransformation(gw); n != "" {
		x := snap.Transformations[n]
		if x == nil {
			return nil, fmt.Errorf("%s: Transformation/%s does not exist", r.Meta.Ref(), n)
		}
		p.xName, p.x = n, x
	}
	// An allow rule with only sourceCIDRs is enforced by rbac alone.
	cidrsOnly := p.authz != nil && p.authz.Spec.Allow != nil && len(p.authz.Spec.Allow.Groups) == 0
	p.call = len(p.authn) > 0 || (p.authz != nil && !cidrsOnly)
	p.bodylessUpgrade = bodylessUpgrade(r, snap.Services)
	p.grpcOnly = len(r.Spec.Backends) > 0
	for _, b := range r.Spec.Backends {
		if s := snap.Services[b.Service]; s == nil || s.Spec.Protocol != policy.ServiceGRPC {
			p.grpcOnly = false
		}
	}
	return p, nil
}

func (p *routePolicy) sourceCIDRs() []string {
	if p.authz == nil || p.authz.Spec.Allow == nil {
		return nil
	}
	return p.authz.Spec.Allow.SourceCIDRs
}

func (p *routePolicy) hasLocal() bool {
	if p.rl == nil {
		return false
	}
	for i := range p.rl.Spec.Limits {
		if p.rl.Spec.Limits[i].Local {
			return true
		}
	}
	return false
}

func (p *routePolicy) hasGlobal() bool {
	if p.rl == nil {
		return false
	}
	if p.rl.Spec.Plan {
		return true
	}
	for i := range p.rl.Spec.Limits {
		if !p.rl.Spec.Limits[i].Local {
			return true
		}
	}
	return false
}

// planFilters resolves every Route of the Gateway and decides which
// filters the group's connection managers carry: a filter no Route needs
// is left out, and so is its cluster.
func planFilters(gw *policy.Gateway, routes []*policy.Route, snap *policy.Snapshot, opts Options) (*gwFilters, error) {
	f := &gwFilters{gw: gw, snap: snap, opts: opts, routes: make(map[*policy.Route]*routePolicy, len(routes)), validation: map[*policy.Route]*policy.Validation{}}
	f.cors = usesCORS(gw, routes)
	f.fault = usesFault(routes)
	f.cache, f.cacheVary = usesCache(gw, routes)
	f.compress = usesCompression(gw, routes)
	f.compression = policy.GatewayCompression(gw)
	f.noStore = setsCacheHeaders(gw, routes)
	jwt := map[string]bool{}
	for _, r := range routes {
		// A Route's validation is its own or its Services' (validation
		// inherited: pkg/policy/validation_inherit.go); backends that
		// disagree are an error, never a guess or an open Route.
		v, _, err := r.EffectiveValidation(snap.Services)
		if err != nil {
			return nil, err
		}
		if v != nil {
			f.validation[r] = v
		}
		f.openapi = f.openapi || v != nil
		f.transcode = f.transcode || r.Spec.Transcoding != nil
		if r.Spec.Authorization == "" && len(r.EffectiveAuthentication(gw)) == 0 && r.EffectiveRateLimit(gw) == "" && r.EffectiveFirewall(gw) == "" && r.EffectiveTransformation(gw) == "" {
			continue // the common case without policies allocates nothing
		}
		p, err := resolveRoute(gw, r, snap)
		if err != nil {
			return nil, err
		}
		f.routes[r] = p
		for _, n := range p.jwt {
			jwt[n] = true
		}
		for _, n := range p.authn {
			if in := snap.Authentications[n].Spec.OAuth2Introspection; in != nil {
				t := in.Timeout.D()
				if t <= 0 {
					t = policy.DefaultIntrospectionTimeout
				}
				f.introspect = max(f.introspect, t)
			}
		}
		f.rbac = f.rbac || len(p.sourceCIDRs()) > 0
		f.local = f.local || p.hasLocal()
		if p.call {
			f.authzOpen = f.authzOpen || p.failOpen
			f.authzClosed = f.authzClosed || !p.failOpen
		}
		f.waf = f.waf || p.fw != nil
		f.xform = f.xform || p.x != nil
		if p.hasGlobal() {
			f.rlDeny = f.rlDeny || p.rl.Spec.FailClosed()
			f.rlAllow = f.rlAllow || !p.rl.Spec.FailClosed()
		}
	}
	f.jwt = sortedKeys(jwt)
	f.login = f.loginNames()
	f.loginCfg = map[string]*anyT{}
	if len(f.routes) > 0 || f.cors || f.fault || f.transcode || f.cache || f.openapi || f.compress || f.noStore {
		f.jwtReq = map[string]*anyT{}
		f.rbacCfg = map[string]*anyT{}
		f.localCfg = map[string]*anyT{}
		f.rlShared = map[string][]*routev3.RateLimit{}
		f.built = make(map[*policy.Route]*routev3.Route, len(f.routes))
	}
	return f, nil
}

// httpFilters is the chain of ENVOY-MAPPING.md "HTTP filter order", with
// the filters no Route of the Gateway needs left out. One slice serves
// every listener of the group.
func (f *gwFilters) httpFilters() []*hcmv3.HttpFilter {
	out := []*hcmv3.HttpFilter{httpFilter(wire.FilterHeaderMutation, headerMutationConfig(f.removedHeaders(), append(f.pathHeaderMutations(), f.clientIPHeaderMutations()...)...))}
	// CORS before every filter that can refuse a request: a preflight
	// carries no credential and must be answered, not refused (cors.go).
	if f.cors {
		out = append(out, httpFilter(wire.FilterCORS, anyCORS))
	}
	// The edge protections next: an IP list or per-client limit refuses
	// before anything spends work on the request (ddos.go). After CORS,
	// whose preflight answers are Envoy's own and reach no upstream.
	out = append(out, edgeFilters(f.gw)...)
	if f.local {
		out = append(out, httpFilter(wire.FilterLocalRateLimit, anyLocalRateLimitOff))
	}
	if f.rbac {
		out = append(out, httpFilter(wire.FilterRBAC, anyRBACOff))
	}
	// Browser login before the token filters: the access token it
	// forwards from its cookie is verified by jwt_authn or ext_authz like
	// any bearer token (oauth2login.go, loginOrder).
	if len(f.login) > 0 {
		out = append(out, httpFilter(wire.FilterOAuth2, anyOAuth2Off))
	}
	if len(f.jwt) > 0 {
		out = append(out, httpFilter(wire.FilterJWT, f.jwtConfig()))
	}
	if f.authzClosed {
		out = append(out, httpFilter(wire.FilterExtAuthzClosed, extAuthzConfig(false, f.opts, f.introspect, gatewayAsksClientCertificates(f.gw))))
	}
	if f.authzOpen {
		out = append(out, httpFilter(wire.FilterExtAuthzOpen, extAuthzConfig(true, f.opts, 0, gatewayAsksClientCertificates(f.gw))))
	}
	if f.rlDeny {
		out = append(out, httpFilter(wire.FilterRateLimitDeny, rateLimitConfig(f.gw.Name, true, f.opts)))
	}
	if f.rlAllow {
		out = append(out, httpFilter(wire.FilterRateLimitAllow, rateLimitConfig(f.gw.Name, false, f.opts)))
	}
	// The compressors after every filter that can refuse a request and
	// before every filter that reads or stores response bodies, which
	// the response path then runs first (compression.go,
	// compressionOrder).
	if f.compress {
		out = append(out, compressorFilters(f.compression)...)
	}
	// The WAF after every filter that can refuse a request, so that
	// unauthenticated, unauthorized or rate-limited traffic is refused by
	// the cheaper filters before CRS spends CPU on it, and so that it
	// inspects the request as forwarded; only fault (test injection) and
	// the router follow (waf.go, wafOrder).
	if f.waf {
		out = append(out, httpFilter(wire.FilterWAF, wafConfig(f.opts)))
	}
	// Request validation after the WAF (which inspects the client's raw
	// request) and before transformation, which reshapes the request for
	// the upstream (openapi.go, openAPIOrder).
	if f.openapi {
		out = append(out, httpFilter(wire.FilterOpenAPI, openAPIConfig()))
	}
	// The cache after every filter that can refuse a request and before
	// the transformation, so that it holds transformed responses (cache.go,
	// cacheOrder).
	if f.cache {
		out = append(out, httpFilter(wire.FilterCache, cacheConfig(f.cacheVary)))
	}
	// Transformation after the WAF: the WAF inspects what the client
	// sent, and the upstream gets the reshaped request; on the response
	// path it runs before the WAF, which then inspects what the client
	// gets (transform.go, transformOrder).
	if f.xform {
		out = append(out, httpFilter(wire.FilterTransform, transformConfig(f.opts)))
	}
	// Fault last: it only ever delays or aborts what every filter above
	// let through (fault.go, faultOrder).
	if f.fault {
		out = append(out, httpFilter(wire.FilterFault, anyFault))
	}
	// The transcoder last before the router: it turns the REST call into
	// the gRPC call the upstream speaks, so every filter before it (the
	// WAF, validation, transformation, fault) sees the REST request, and
	// on the response path every one of them sees the JSON it makes
	// (transcoder.go, transcoderOrder).
	if f.transcode {
		out = append(out, httpFilter(wire.FilterTranscoder, anyTranscoderDisabled))
	}
	return append(out, httpFilter(wire.FilterRouter, anyRouter))
}

func httpFilter(name string, cfg *anyT) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: cfg}}
}

// authFailureModeHeader is the header ext_authz adds when it let a
// request in because the authz call failed (failure_mode_allow_header_add;
// Envoy: source/extensions/filters/http/ext_authz/ext_authz.cc). An
// upstream that reads it must never see a client-sent copy.
const authFailureModeHeader = "x-envoy-auth-failure-mode-allowed"

// removedHeaders are the headers a client may not send: the consumer
// header, ext_authz's failure-mode header and the claimsToHeaders header
// of every JWT Authentication of the snapshot, which only gatehouse's
// filters may set. Every Authentication, not only those this Gateway's
// Routes use: an upstream behind several Gateways trusts the header from
// all of them, and a Route may move between Gateways. jwt_authn strips
// its providers' claim headers itself (Envoy: source/extensions/filters/
// http/jwt_authn/extractor.cc, sanitizeHeaders), but only where it runs.
func (f *gwFilters) removedHeaders() []string {
	set := map[string]bool{wire.ConsumerHeader: true, authFailureModeHeader: true}
	if f.usesPathKey() {
		set[wire.RateLimitPathHeader] = true
	}
	if f.gw.Spec.ClientIP != nil {
		set[wire.ClientIPHeader] = true
	}
	for _, a := range f.snap.Authentications {
		if a.Spec.JWT == nil {
			continue
		}
		for _, c := range a.Spec.JWT.ClaimsToHeaders {
			set[strings.ToLower(c.Header)] = true
		}
	}
	return sortedKeys(set)
}

// route returns the Route as this Gateway's Envoys get it: the shared
// proto from the index when no policy applies, else a copy carrying the
// per-route filter configs and rate-limit actions. A Route listed under
// several virtual hosts or listeners is decorated once.
func (f *gwFilters) route(r *policy.Route, base *routev3.Route) *routev3.Route {
	p := f.routes[r]
	cors := r.EffectiveCORS(f.gw)
	cached := false
	if f.cache {
		cached, _ = r.CachedOn(f.gw)
	}
	compressed := f.compress && r.CompressedOn(f.gw)
	cdn := r.EffectiveCDN(f.gw) != nil
	if p == nil && cors == nil && r.Spec.Fault == nil && r.Spec.Transcoding == nil && !cached && !compressed && !cdn && !f.anyPerRoute() {
		return base
	}
	if rt := f.built[r]; rt != nil {
		return rt
	}
	rt := &routev3.Route{}
	copyExcept(base.ProtoReflect(), rt.ProtoReflect(), "typed_per_filter_config")
	if p == nil {
		p = &routePolicy{}
	}
	cfg := map[string]*anyT{}
	if cors != nil {
		cfg[wire.FilterCORS] = f.corsConfig(cors)
	}
	if f.fault && r.Spec.Fault != nil {
		cfg[wire.FilterFault] = faultConfig(r.Spec.Fault)
	}
	if f.local && p.hasLocal() {
		cfg[wire.FilterLocalRateLimit] = f.localConfig(p)
	}
	if f.rbac && len(p.sourceCIDRs()) > 0 {
		cfg[wire.FilterRBAC] = f.rbacConfig(p)
	}
	if len(f.jwt) > 0 {
		cfg[wire.FilterJWT] = f.jwtPerRoute(p)
	}
	if a := f.loginPerRoute(p); a != nil {
		cfg[wire.FilterOAuth2] = a
	}
	f.extAuthzPerRoute(cfg, r, p)
	if f.waf {
		if p.fw != nil {
			cfg[wire.FilterWAF] = wafPerRoute(p.fwName, p.fw)
		} else {
			cfg[wire.FilterWAF] = anyWAFDisabled
		}
	}
	if f.xform {
		if p.x != nil {
			cfg[wire.FilterTransform] = transformPerRoute(p.xName, p.x)
		} else {
			cfg[wire.FilterTransform] = anyTransformDisabled
		}
	}
	if f.openapi {
		if v := f.validation[r]; v != nil {
			cfg[wire.FilterOpenAPI] = openAPIPerRoute(r, v)
		} else {
			cfg[wire.FilterOpenAPI] = anyOpenAPIDisabled
		}
	}
	if f.transcode && r.Spec.Transcoding != nil {
		cfg[wire.FilterTranscoder] = transcoderPerRoute(r.Spec.Transcoding)
	}
	if f.cache {
		if cached {
			cacheRoute(rt, base, r.EffectiveCache(f.gw), p.call)
		} else {
			cfg[wire.FilterCache] = anyCacheDisabled
		}
	}
	if compressed {
		compressRoute(cfg, f.compression)
	}
	if len(cfg) > 0 {
		rt.TypedPerFilterConfig = cfg
	}
	if p.stripAuthorization {
		rt.RequestHeadersToRemove = authorizationRemoved(base.GetRequestHeadersToRemove())
	}
	if compressed {
		// The upstream must not compress first (compression.go).
		rt.RequestHeadersToRemove = append(append([]string(nil), rt.GetRequestHeadersToRemove()...), "accept-encoding")
	}
	if cdn {
		cdnRoute(rt, r, f.gw)
	}
	sharedCacheMark(rt, r, f.gw)
	if p.hasGlobal() {
		if ra := base.GetRoute(); ra != nil {
			nra := &routev3.RouteAction{}
			copyExcept(ra.ProtoReflect(), nra.ProtoReflect(), "rate_limits")
			nra.RateLimits = f.rateLimits(r, p)
			rt.Action = &routev3.Route_Route{Route: nra}
		}
	}
	f.built[r] = rt
	return rt
}

// routes2 is r's Envoy routes: its route, or its upgrade route and its
// ordinary route when it accepts upgrades and runs a filter that waits
// for a body (upgradeinspect.go).
func (f *gwFilters) routes2(r *policy.Route, base *routev3.Route) []*routev3.Route {
	// First: the decision reads p.bodylessUpgrade, which a split clears,
	// so a Route served on a second listener must not decide again.
	if s := f.split[r]; s != nil {
		return s
	}
	cached := false
	if f.cache {
		cached, _ = r.CachedOn(f.gw)
	}
	p := f.routes[r]
	split := f.splitsUpgrades(r, p, cached)
	if split && p != nil {
		// The ordinary route is never upgraded: ext_authz may buffer its
		// body; the upgrade route never does (upgradeRoutes).
		p.bodylessUpgrade = false
	}
	rt := f.route(r, base)
	if !split {
		return []*routev3.Route{rt}
	}
	up, plain := upgradeRoutes(rt, cached)
	if f.split == nil {
		f.split = map[*policy.Route][]*routev3.Route{}
	}
	f.split[r] = []*routev3.Route{up, plain}
	return f.split[r]
}

// anyPerRoute reports whether every Route needs per-route configs, even
// one with no policy: a jwt_authn, ext_authz, WAF, validation,
// transformation or cache filter must be disabled explicitly on Routes
// that do not use it.
func (f *gwFilters) anyPerRoute() bool {
	return len(f.jwt) > 0 || f.authzClosed || f.authzOpen || f.waf || f.openapi || f.xform || f.cache
}

// grpcSkipped says, for a proxyless gRPC group, that a protected Route is
// served without its protections because it opted in (proxyless.
// serveUnprotected): grpc-go NACKs HTTP filters it does not implement, so
// those groups get none of these filters. Protected Routes that did not
// opt in are withheld (withheldRoutes).
func grpcSkipped(gw *policy.Gateway, r *policy.Route, services map[string]*policy.Service) string {
	what := r.Protections(gw, services)
	if len(what) == 0 {
		return ""
	}
	return r.Meta.Ref() + ": served to proxyless gRPC WITHOUT its " + strings.Join(what, ", ") + " (proxyless.serveUnprotected; Envoy-only HTTP filters)"
}

// joinSorted joins already sorted names.
func joinSorted(names []string) string {
	if !sort.StringsAreSorted(names) {
		names = sortedCopy(names)
	}
	return strings.Join(names, ",")
}
