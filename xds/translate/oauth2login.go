package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	oauth2v3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/oauth2/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Browser login (oauth2Login Authentications) runs on Envoy's OAuth2
// filter (envoy.filters.http.oauth2, stable, robust_to_untrusted_downstream
// in source/extensions/extensions_metadata.yaml). The shape follows Envoy
// Gateway's OIDC translation (internal/xds/translator/testdata/out/xds-ir/
// oidc*.yaml): one filter per connection manager with no config of its own,
// and one full OAuth2PerRoute config per Route that uses a login.
//
//   - The filter-level OAuth2 has no config. Envoy then builds no filter
//     config (source/extensions/filters/http/oauth2/config.cc,
//     createFilterFactoryFromProtoTyped: only "if (proto.has_config())"),
//     and a Route without a per-route config is not logged in: "If neither
//     the global config nor a per-route config is specified, OAuth2 is
//     disabled for the route" (OAuth2PerRoute in the pinned
//     envoy/extensions/filters/http/oauth2/v3/oauth.proto). Routes that do
//     not use a login therefore carry nothing.
//   - The client secret and the HMAC (cookie-signing and -encryption) key
//     go only over SDS: token_secret and hmac_secret name generic secrets
//     of this group's snapshot, fetched over the same ADS stream
//     (config.cc, secretsProvider: findOrCreateGenericSecretProvider when
//     sds_config is set). Only the groups whose Routes use the login get
//     them (they are part of this Gateway's group only).
//   - PKCE has no switch: the pinned filter always sends an S256
//     code_challenge and keeps the verifier in an encrypted cookie
//     (filter.cc, redirectToOAuthServer: generateCodeVerifier,
//     generateCodeChallenge, code_challenge_method=S256).
//   - Every cookie the filter sets is Secure and HttpOnly (filter.cc,
//     CookieTailHttpOnlyFormatString ";path={};Max-Age={};secure;HttpOnly");
//     SameSite is set here (Lax by default, policy sameSite).
//   - Requests carrying Authorization: Bearer (API callers) skip the login
//     (pass_through_matcher, checked first in decodeHeaders); their token
//     is verified by the Route's jwt or oauth2Introspection Authentication,
//     which policy requires beside every login (resolveLogin), exactly like
//     the token the filter forwards for a logged-in browser
//     (forward_bearer_token).

// loginTokenTimeout bounds one call to the token endpoint (code exchange
// or refresh).
const loginTokenTimeout = 5 * time.Second

// anyOAuth2Off is the filter-level OAuth2: no config, so the filter does
// nothing on Routes without a per-route config.
var anyOAuth2Off = mustAny(&oauth2v3.OAuth2{})

// LoginEndpoints are an identity provider's endpoints for browser login.
type LoginEndpoints struct {
	Authorization, Token, EndSession string
}

// loginEndpoints are l's endpoints: the ones written in the policy, the
// rest from discovery of its issuer (Options.DiscoveredLogin). ok is
// false while the authorization or token endpoint is unknown: the Route is
// then served without the login filter, and its token Authentication
// refuses requests without a token (fail closed; no redirect).
func (f *gwFilters) loginEndpoints(l *policy.OAuth2LoginAuth) (LoginEndpoints, bool) {
	e := LoginEndpoints{Authorization: l.AuthorizationEndpoint, Token: l.TokenEndpoint, EndSession: l.EndSessionEndpoint}
	if l.Issuer != "" && f.opts.DiscoveredLogin != nil {
		d := f.opts.DiscoveredLogin(l)
		if e.Authorization == "" {
			e.Authorization = d.Authorization
		}
		if e.Token == "" {
			e.Token = d.Token
		}
		// A discovered end_session_endpoint is used only with the openid
		// scope: Envoy refuses it otherwise (filter.cc, FilterConfig:
		// "end session endpoint is only supported for OpenID Connect").
		if e.EndSession == "" && slices.Contains(l.LoginScopes(), "openid") {
			e.EndSession = d.EndSession
		}
	}
	if e.Authorization == "" || e.Token == "" {
		return e, false
	}
	if _, err := parseIdPURI("idp", e.Token); err != nil {
		return e, false
	}
	return e, true
}

// Secret names of a login: one pair per Authentication, in the snapshot of
// each Gateway whose Routes use it.
func loginClientSecretName(authn string) string { return "oauth2/" + authn + "/client-secret" }
func loginHMACSecretName(authn string) string   { return "oauth2/" + authn + "/hmac" }

// loginCookieSuffix makes the cookie names of one login on one Gateway
// unique: two logins (or one login on two Gateways of the same host, whose
// cookies browsers share across ports) never read each other's cookies.
func loginCookieSuffix(gw, authn string) string {
	h := sha256.Sum256([]byte(gw + "\x00" + authn))
	return hex.EncodeToString(h[:4])
}

// loginCookieNames are the filter's cookie names with the suffix. Not
// __Host- prefixed: the filter deletes cookies without the Secure
// attribute (filter.cc, CookieDeleteFormatString), and browsers ignore a
// Set-Cookie for a __Host- name without Secure, so logout would leave the
// session in place.
func loginCookieNames(suffix string) *oauth2v3.OAuth2Credentials_CookieNames {
	return &oauth2v3.OAuth2Credentials_CookieNames{
		BearerToken:  "GatehouseAccessToken-" + suffix,
		OauthHmac:    "GatehouseHMAC-" + suffix,
		OauthExpires: "GatehouseExpires-" + suffix,
		IdToken:      "GatehouseIdToken-" + suffix,
		RefreshToken: "GatehouseRefreshToken-" + suffix,
		OauthNonce:   "GatehouseNonce-" + suffix,
		CodeVerifier: "GatehouseCodeVerifier-" + suffix,
	}
}

// loginCookieConfigs sets SameSite on every cookie: the session cookies
// get the policy's (Lax or Strict; None is refused at load), the nonce and
// PKCE verifier cookies always Lax, since they must come back on the
// identity provider's cross-site redirect to the callback (a top-level
// GET, which Lax allows and Strict does not).
func loginCookieConfigs(sameSite string) *oauth2v3.CookieConfigs {
	session := oauth2v3.CookieConfig_LAX
	if sameSite == "Strict" {
		session = oauth2v3.CookieConfig_STRICT
	}
	s := func(v oauth2v3.CookieConfig_SameSite) *oauth2v3.CookieConfig {
		return &oauth2v3.CookieConfig{SameSite: v}
	}
	return &oauth2v3.CookieConfigs{
		BearerTokenCookieConfig:  s(session),
		OauthHmacCookieConfig:    s(session),
		OauthExpiresCookieConfig: s(session),
		IdTokenCookieConfig:      s(session),
		RefreshTokenCookieConfig: s(session),
		OauthNonceCookieConfig:   s(oauth2v3.CookieConfig_LAX),
		CodeVerifierCookieConfig: s(oauth2v3.CookieConfig_LAX),
	}
}

// bearerPassThrough lets requests that carry a bearer token skip the
// login: API clients are never redirected to a login page, and their
// token is verified by the Route's token Authentication. Prefix match on
// "Bearer " as RFC 6750 section 2.1 spells it; any other Authorization is
// removed by the filter (preserve_authorization_header false) and the
// request goes through the login.
var bearerPassThrough = []*routev3.HeaderMatcher{{
	Name: "authorization",
	HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
		MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "Bearer "},
	}},
}}

// loginConfig is the OAuth2 config of one login on this Gateway.
func (f *gwFilters) loginConfig(name string, l *policy.OAuth2LoginAuth, e LoginEndpoints) *oauth2v3.OAuth2Config {
	t, _ := parseIdPURI("idp", e.Token) // checked by loginEndpoints
	redirect := l.RedirectURI
	if redirect == "" {
		// Always https: the session cookies are Secure, and policy serves
		// login Routes over HTTPS only (resolveLogin). The host is the
		// request's; identity providers accept only registered redirect
		// URIs, so a forged Host gets no code.
		redirect = "https://%REQ(:authority)%" + l.Redirect()
	}
	exact := func(p string) *matcherv3.PathMatcher {
		return &matcherv3.PathMatcher{Rule: &matcherv3.PathMatcher_Path{Path: &matcherv3.StringMatcher{
			MatchPattern: &matcherv3.StringMatcher_Exact{Exact: p},
		}}}
	}
	sds := func(n string) *tlsv3.SdsSecretConfig {
		return &tlsv3.SdsSecretConfig{Name: n, SdsConfig: sdsConfigSource}
	}
	return &oauth2v3.OAuth2Config{
		TokenEndpoint: &corev3.HttpUri{
			Uri:              e.Token,
			HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: t.cluster},
			Timeout:          durationpb.New(loginTokenTimeout),
		},
		AuthorizationEndpoint: e.Authorization,
		EndSessionEndpoint:    e.EndSession,
		Credentials: &oauth2v3.OAuth2Credentials{
			ClientId:       l.ClientID,
			TokenSecret:    sds(loginClientSecretName(name)),
			TokenFormation: &oauth2v3.OAuth2Credentials_HmacSecret{HmacSecret: sds(loginHMACSecretName(name))},
			CookieNames:    loginCookieNames(loginCookieSuffix(f.gw.Name, name)),
		},
		RedirectUri:         redirect,
		RedirectPathMatcher: exact(l.Redirect()),
		SignoutPath:         exact(l.Logout()),
		// The access token goes to the next filters as Authorization:
		// Bearer, where the Route's jwt_authn or ext_authz (introspection)
		// verifies it and names the Consumer. The filter itself checks
		// only its cookie's HMAC and expiry.
		ForwardBearerToken: true,
		PassThroughMatcher: bearerPassThrough,
		AuthScopes:         l.LoginScopes(),
		// client_secret_basic: the method every OAuth 2.0 server must
		// support for clients with a password (RFC 6749, section 2.3.1).
		AuthType: oauth2v3.OAuth2Config_BASIC_AUTH,
		// Refresh silently with the refresh token (kept encrypted with
		// the HMAC key in an HttpOnly cookie) rather than sending the
		// browser back to the identity provider each time the access
		// token expires. Envoy's default, made explicit.
		UseRefreshToken: wrapperspb.Bool(true),
		CookieConfigs:   loginCookieConfigs(l.CookieSameSite()),
		StatPrefix:      "login_" + name + ".",
	}
}

// loginPerRoute is the per-route config enabling p's login on its Route;
// nil when the Route uses none or its endpoints are not known yet.
func (f *gwFilters) loginPerRoute(p *routePolicy) *anyT {
	if p.login == "" {
		return nil
	}
	if a, ok := f.loginCfg[p.login]; ok {
		return a
	}
	l := f.snap.Authentications[p.login].Spec.OAuth2Login
	var a *anyT
	if e, ok := f.loginEndpoints(l); ok {
		a = mustAny(&oauth2v3.OAuth2PerRoute{Config: f.loginConfig(p.login, l, e)})
	}
	f.loginCfg[p.login] = a
	return a
}

// loginNames are the login Authentications this Gateway's Routes use and
// whose endpoints are known, sorted.
func (f *gwFilters) loginNames() []string {
	set := map[string]bool{}
	for _, p := range f.routes {
		if p.login != "" {
			if _, ok := f.loginEndpoints(f.snap.Authentications[p.login].Spec.OAuth2Login); ok {
				set[p.login] = true
			}
		}
	}
	return sortedKeys(set)
}

// loginSecrets are the client secrets and HMAC keys of the group's logins,
// as generic secrets (served over SDS only).
func (f *gwFilters) loginSecrets() []typesResource {
	var out []typesResource
	for _, n := range f.login {
		l := f.snap.Authentications[n].Spec.OAuth2Login
		out = append(out,
			genericSecret(loginClientSecretName(n), l.ClientSecretValue.Reveal()),
			genericSecret(loginHMACSecretName(n), l.HMACSecretValue.Reveal()))
	}
	return out
}

func genericSecret(name, v string) *tlsv3.Secret {
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_GenericSecret{GenericSecret: &tlsv3.GenericSecret{
		Secret: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: []byte(v)}},
	}}}
}

// loginClusters are the token-endpoint clusters of the group's logins, one
// per host (TLS checked against the system CAs, SNI and SAN the host, like
// the JWKS clusters; plain http only with allowInsecureHTTP).
func (f *gwFilters) loginClusters(seen map[string]bool) ([]typesResource, error) {
	var out []typesResource
	for _, n := range f.login {
		e, _ := f.loginEndpoints(f.snap.Authentications[n].Spec.OAuth2Login)
		t, err := parseIdPURI("idp", e.Token)
		if err != nil {
			return nil, fmt.Errorf("Authentication/%s: %w", n, err)
		}
		if !seen[t.cluster] {
			seen[t.cluster] = true
			out = append(out, jwksCluster(t, f.opts))
		}
	}
	return out, nil
}

// withoutLogin drops the login from the Authentications ext_authz is told
// about: the login is Envoy's, and the token it forwards is checked by the
// Route's token Authentication, which stays in the list.
func withoutLogin(authn []string, login string) []string {
	if login == "" {
		return authn
	}
	out := make([]string, 0, len(authn))
	for _, n := range authn {
		if n != login {
			out = append(out, n)
		}
	}
	return out
}
