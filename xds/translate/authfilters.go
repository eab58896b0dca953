package translate

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"time"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	rbacfv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// jwksFetchTimeout bounds one remote JWKS fetch.
const jwksFetchTimeout = 5 * time.Second

// Typed configs every group shares, marshalled once.
var (
	anyRouter = mustAny(&routerv3.Router{})
	// rbac with no rules enforces nothing; Routes with sourceCIDRs carry
	// their own rules (RBACPerRoute), which replace these.
	anyRBACOff          = mustAny(&rbacfv3.RBAC{})
	anyJWTDisabled      = mustAny(&jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_Disabled{Disabled: true}})
	anyExtAuthzDisabled = mustAny(&extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}})
)

// headerMutationConfig removes client-sent copies of the headers only
// gatehouse may set, before any other filter reads them, then applies
// then (headers gatehouse sets for its own filters).
func headerMutationConfig(remove []string, then ...*mutationv3.HeaderMutation) *anyT {
	ms := make([]*mutationv3.HeaderMutation, len(remove), len(remove)+len(then))
	for i, h := range remove {
		ms[i] = &mutationv3.HeaderMutation{Action: &mutationv3.HeaderMutation_Remove{Remove: h}}
	}
	ms = append(ms, then...)
	return mustAny(&headermutationv3.HeaderMutation{Mutations: &headermutationv3.Mutations{RequestMutations: ms}})
}

// jwtConfig has one provider per JWT Authentication the Gateway's Routes
// use, named after it, and one requirement per distinct set of providers
// a Route accepts. Without rules, a Route with no per-route config is not
// checked: every Route gets one (see jwtPerRoute).
func (f *gwFilters) jwtConfig() *anyT {
	cfg := &jwtv3.JwtAuthentication{
		Providers:      make(map[string]*jwtv3.JwtProvider, len(f.jwt)),
		RequirementMap: map[string]*jwtv3.JwtRequirement{},
	}
	for _, n := range f.jwt {
		cfg.Providers[n] = f.jwtProvider(n, f.snap.Authentications[n].Spec.JWT)
	}
	for _, p := range f.routes {
		if len(p.jwt) == 0 {
			continue
		}
		name := joinSorted(p.jwt)
		if _, ok := cfg.RequirementMap[name]; ok {
			continue
		}
		// "Any one of" (ENVOY-MAPPING.md): a valid token of one provider,
		// or no token at all (allow_missing), so that a request with an
		// API key or none reaches ext_authz, which decides. A token that
		// is present but invalid fails every alternative: 401 here.
		reqs := make([]*jwtv3.JwtRequirement, 0, len(p.jwt)+1)
		for _, prov := range p.jwt {
			reqs = append(reqs, &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: prov}})
		}
		reqs = append(reqs, &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_AllowMissing{AllowMissing: &emptypb.Empty{}}})
		cfg.RequirementMap[name] = &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAny{
			RequiresAny: &jwtv3.JwtRequirementOrList{Requirements: reqs},
		}}
	}
	return mustAny(cfg)
}

// jwtProvider maps a JWT Authentication. The verified payload goes to
// dynamic metadata under the provider (Authentication) name, where
// ext_authz and rate-limit claim descriptors read it. Tokens come from
// Envoy's default places (Authorization: Bearer, access_token query).
//
// The provider always forwards the token: with forward: false jwt_authn
// removes it from the request as soon as it is verified (Envoy:
// source/extensions/filters/http/jwt_authn/authenticator.cc, removeJwt),
// before ext_authz runs, and Rego written for opa-envoy-plugin reads the
// Authorization header. forwardToken: false is enforced for the upstream
// by the route instead (authorizationRemoved).
func (f *gwFilters) jwtProvider(name string, j *policy.JWTAuth) *jwtv3.JwtProvider {
	p := &jwtv3.JwtProvider{
		Issuer:            j.Issuer,
		Audiences:         append([]string(nil), j.Audiences...),
		Forward:           true,
		PayloadInMetadata: name,
	}
	for _, c := range j.ClaimsToHeaders {
		p.ClaimToHeaders = append(p.ClaimToHeaders, &jwtv3.JwtClaimToHeader{HeaderName: strings.ToLower(c.Header), ClaimName: c.Claim})
	}
	switch {
	case j.UseDiscovery:
		setDiscoveryJWKS(p, f.discoveredURI(j), j.Discovery.Cache())
	case j.JWKS.URI != "":
		t, _ := parseJWKSURI(j.JWKS.URI) // checked by jwksClusters first
		p.JwksSourceSpecifier = &jwtv3.JwtProvider_RemoteJwks{RemoteJwks: &jwtv3.RemoteJwks{
			HttpUri: &corev3.HttpUri{
				Uri:              j.JWKS.URI,
				HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: t.cluster},
				Timeout:          durationpb.New(jwksFetchTimeout),
			},
			CacheDuration: durationpb.New(j.JWKS.Cache()),
			// Fetched when the listener is created, not by the first
			// request; the listener waits for the fetch (or its failure,
			// bounded by jwksFetchTimeout) so that the first requests are
			// verified rather than rejected.
			AsyncFetch: &jwtv3.JwksAsyncFetch{},
		}}
	default:
		p.JwksSourceSpecifier = &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineString{InlineString: string(j.JWKS.JWKSJSON)},
		}}
	}
	return p
}

func (f *gwFilters) jwtPerRoute(p *routePolicy) *anyT {
	if len(p.jwt) == 0 {
		return anyJWTDisabled
	}
	name := joinSorted(p.jwt)
	a := f.jwtReq[name]
	if a == nil {
		a = mustAny(&jwtv3.PerRouteConfig{RequirementSpecifier: &jwtv3.PerRouteConfig_RequirementName{RequirementName: name}})
		f.jwtReq[name] = a
	}
	return a
}

// requireExt is a Route's require block as context extensions (pkg/wire):
// the authz service checks it against the caller's token, JWTs included,
// because jwt_authn's requirements name providers and audiences only, no
// claim or scope (go-control-plane envoy/extensions/filters/http/
// jwt_authn/v3/config.pb.go, JwtRequirement.RequiresType). Scopes are
// validated RFC 6749 scope-tokens (no spaces), so a space joins them;
// claims go as JSON, whose map keys encoding/json sorts, so the same Route
// always gives the same bytes.
func requireExt(rq *policy.RouteRequire) []kv {
	if rq == nil {
		return nil
	}
	var out []kv
	if len(rq.Scopes) > 0 {
		out = append(out, kv{wire.CtxRequireScopes, strings.Join(rq.Scopes, " ")})
	}
	if len(rq.Claims) > 0 {
		b, _ := json.Marshal(rq.Claims) // a map of strings always marshals
		out = append(out, kv{wire.CtxRequireClaims, string(b)})
	}
	return out
}

// introspectionMargin is added to the longest introspection timeout of a
// Gateway's Routes for its fail-closed ext_authz call: the authz service
// must get to answer (503, fail closed, with its reason) before Envoy gives
// up on the call.
const introspectionMargin = 250 * time.Millisecond

// extAuthzConfig is one of the two ext_authz instances: failure_mode_allow
// is filter-wide, so fail-closed and fail-open Routes need one each.
// introspect is the longest introspection timeout among the Routes that
// use the instance (0: none); the call's timeout covers it.
// peerCert: the Gateway asks for client certificates, and the verified
// one goes to the authz service (source.certificate).
func extAuthzConfig(failOpen bool, o Options, introspect time.Duration, peerCert bool) *anyT {
	timeout := o.AuthzTimeout
	if introspect > 0 && introspect+introspectionMargin > timeout {
		timeout = introspect + introspectionMargin
	}
	cfg := &extauthzv3.ExtAuthz{
		Services: &extauthzv3.ExtAuthz_GrpcService{GrpcService: envoyGRPC(wire.AuthzCluster, timeout)},
		// The authz service reads the verified JWT payloads from here.
		MetadataContextNamespaces: []string{wire.JWTMetadataNamespace},
		TransportApiVersion:       corev3.ApiVersion_V3,
		FailureModeAllow:          failOpen,
		// Body-based Rego (input.parsed_body): at most this much is
		// buffered; a larger body is sent cut, never rejected here.
		WithRequestBody:        &extauthzv3.BufferSettings{MaxRequestBytes: o.MaxAuthzBodyBytes, AllowPartialMessage: true},
		StatPrefix:             "fail_closed",
		IncludePeerCertificate: peerCert,
	}
	if failOpen {
		cfg.StatPrefix = "fail_open"
		// Tell the upstream the call failed and the request was let in.
		cfg.FailureModeAllowHeaderAdd = true
	} else {
		// An unreachable authz service denies (403, Envoy's default made
		// explicit): authorization fails closed.
		cfg.StatusOnError = &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}
	}
	return mustAny(cfg)
}

// extAuthzPerRoute enables the instance a Route's Authorization asks for,
// with context extensions naming the Route and its policies, and disables
// the other; a Route that needs no call disables both.
func (f *gwFilters) extAuthzPerRoute(cfg map[string]*anyT, r *policy.Route, p *routePolicy) {
	if f.authzClosed {
		cfg[wire.FilterExtAuthzClosed] = anyExtAuthzDisabled
	}
	if f.authzOpen {
		cfg[wire.FilterExtAuthzOpen] = anyExtAuthzDisabled
	}
	if !p.call {
		return
	}
	anon := "false"
	if len(p.authn) == 0 {
		anon = "true"
	}
	ext := []kv{
		{wire.CtxGateway, f.gw.Name},
		{wire.CtxRoute, r.Name},
		{wire.CtxAuthentication, strings.Join(withoutLogin(p.authn, p.login), ",")},
		{wire.CtxAuthorization, p.authzName},
		{wire.CtxAllowAnonymous, anon},
	}
	if f.gw.Spec.ClientIP != nil {
		ext = append(ext, kv{wire.CtxClientIPHeader, "true"})
	}
	ext = append(ext, requireExt(r.Spec.Require)...)
	// Streaming gRPC calls, tunnels and upgraded streams other than
	// WebSocket must not wait for a body to be buffered (upgrades.go).
	a := extAuthzCheckAny(ext, p.grpcOnly || p.bodylessUpgrade)
	if p.failOpen {
		cfg[wire.FilterExtAuthzOpen] = a
	} else {
		cfg[wire.FilterExtAuthzClosed] = a
	}
}

// rbacConfig allows only the Authorization's source CIDRs. It matches
// remote_ip, the client address as the connection manager derives it
// (clientip.go): without the Gateway's clientIP that is the TCP peer (or
// the PROXY protocol's source), so a client cannot spoof it with
// X-Forwarded-For; with it, the address the trusted proxies reported, the
// same one remote_address rate-limit keys count (direct_remote_ip would
// be the nearest proxy).
func (f *gwFilters) rbacConfig(p *routePolicy) *anyT {
	if a := f.rbacCfg[p.authzName]; a != nil {
		return a
	}
	cidrs := p.sourceCIDRs()
	principals := make([]*rbacv3.Principal, 0, len(cidrs))
	for _, c := range cidrs {
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			// Validation rejects it; a hand-built Snapshot gets a rule
			// that matches nothing rather than an open Route.
			continue
		}
		principals = append(principals, &rbacv3.Principal{Identifier: &rbacv3.Principal_RemoteIp{RemoteIp: &corev3.CidrRange{
			AddressPrefix: pfx.Addr().String(),
			PrefixLen:     wrapperspb.UInt32(uint32(pfx.Bits())),
		}}})
	}
	if len(principals) == 0 {
		principals = append(principals, &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: &rbacv3.Principal{Identifier: &rbacv3.Principal_Any{Any: true}}}})
	}
	a := mustAny(&rbacfv3.RBACPerRoute{Rbac: &rbacfv3.RBAC{Rules: &rbacv3.RBAC{
		Action: rbacv3.RBAC_ALLOW,
		Policies: map[string]*rbacv3.Policy{
			"Authorization/" + p.authzName + "/sourceCIDRs": {
				Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_Any{Any: true}}},
				Principals:  principals,
			},
		},
	}}})
	f.rbacCfg[p.authzName] = a
	return a
}

// envoyGRPC is a gRPC service reached over one of this group's clusters.
func envoyGRPC(cluster string, timeout time.Duration) *corev3.GrpcService {
	return &corev3.GrpcService{
		TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: cluster}},
		Timeout:         durationpb.New(timeout),
	}
}

// authorizationRemoved adds the Authorization header to a route's
// request_headers_to_remove, for Routes with a forwardToken: false JWT
// Authentication. The router applies a route's header changes when it
// forwards the request (Envoy: source/common/router/router.cc,
// Filter::decodeHeaders calls route_entry_->finalizeRequestHeaders), and
// the router is the last HTTP filter: ext_authz has seen the header by
// then, the upstream never does. A token sent as the access_token query
// parameter is not removed.
func authorizationRemoved(remove []string) []string {
	for _, h := range remove {
		if strings.EqualFold(h, authorizationHeader) {
			return remove
		}
	}
	out := append(append(make([]string, 0, len(remove)+1), remove...), authorizationHeader)
	sort.Strings(out)
	return out
}

const authorizationHeader = "authorization"
