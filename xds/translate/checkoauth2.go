package translate

import (
	"net/url"
	"slices"
	"strings"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	oauth2v3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/oauth2/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Check rules of Envoy's OAuth2 filter (browser login, oauth2login.go).
// What Envoy refuses when it loads a config, read in the filter's source
// (source/extensions/filters/http/oauth2/):
//
//   - config.cc, createFilterConfig: "token_secret is required when
//     auth_type is not TLS_CLIENT_AUTH"; "invalid token secret
//     configuration" / "invalid HMAC secret configuration" when a secret
//     without sds_config is not a static (bootstrap) secret, which
//     gatehouse never sends; "at most one of forward_bearer_token,
//     preserve_authorization_header, or forward_id_token (when forwarding
//     the ID token on the Authorization header)"; forward_id_token on a
//     pseudo-header or Host, or a pass_through_matcher on the forwarded ID
//     token header.
//   - config.cc, createRouteSpecificFilterConfigTyped: a per-route config
//     is built from its config alone, so it must be complete.
//   - filter.cc, FilterConfig: "invalid authorization endpoint URL"; "end
//     session endpoint is only supported for OpenID Connect" (auth_scopes
//     without openid). An unknown token_endpoint cluster is only logged
//     there (the cluster may come later), but every code exchange would
//     fail: Check refuses it.
//
// Gatehouse's own rules on top: each secret a config names is a non-empty
// generic secret of the group (SDS over ADS, never inline); two logins
// never share a cookie name; the callback and logout paths are two exact
// paths other than /; the filter comes before jwt_authn and
// ext_authz, which verify the token it forwards; and a route that logs in
// also calls the fail-closed ext_authz, which refuses a request with no
// verified token (a login that only checked its own cookie would let any
// holder of a stale or forged-key cookie through).

// oauth2Filter checks the filter-level OAuth2 of a connection manager.
func (c *checker) oauth2Filter(where string, a *anypb.Any) {
	m := &oauth2v3.OAuth2{}
	if !c.unmarshal(where, a, m) {
		return
	}
	c.validate("http filter", where, m)
	if m.GetConfig() != nil {
		c.oauth2Config(where, m.GetConfig())
	}
}

// oauth2PerRoute checks one route's OAuth2PerRoute and that the route
// verifies the token the login forwards.
func (c *checker) oauth2PerRoute(where string, cfg map[string]*anypb.Any, a *anypb.Any) {
	m := &oauth2v3.OAuth2PerRoute{}
	if !c.unmarshal(where, a, m) {
		return
	}
	if m.GetConfig() == nil {
		c.fail("%s: OAuth2PerRoute without config (Envoy builds the route's config from it alone: token_secret is required)", where)
		return
	}
	if c.oauth2Done == nil {
		c.oauth2Done = map[string]bool{}
	}
	if k := string(a.GetValue()); !c.oauth2Done[k] {
		c.oauth2Done[k] = true
		c.validate("per-route config", where, m)
		c.oauth2Config(where, m.GetConfig())
	}
	ea := &extauthzv3.ExtAuthzPerRoute{}
	if x := cfg[wire.FilterExtAuthzClosed]; x == nil || !c.unmarshal(where, x, ea) || ea.GetDisabled() || ea.GetCheckSettings() == nil {
		c.fail("%s: a route with browser login must call the fail-closed ext_authz (%s), which refuses requests without a verified token", where, wire.FilterExtAuthzClosed)
	}
}

// oauth2Config holds one OAuth2Config to Envoy's load-time rules and
// gatehouse's.
func (c *checker) oauth2Config(where string, m *oauth2v3.OAuth2Config) {
	if m.GetAuthType() != oauth2v3.OAuth2Config_TLS_CLIENT_AUTH && m.GetCredentials().GetTokenSecret() == nil {
		c.fail("%s: token_secret is required unless auth_type is TLS_CLIENT_AUTH", where)
	}
	c.loginSecret(where, "token_secret", m.GetCredentials().GetTokenSecret())
	if m.GetCredentials().GetHmacSecret() == nil {
		c.fail("%s: hmac_secret is required", where)
	}
	c.loginSecret(where, "hmac_secret", m.GetCredentials().GetHmacSecret())
	if cl := m.GetTokenEndpoint().GetCluster(); !c.clusters[cl] {
		c.fail("%s: token_endpoint cluster %q does not exist", where, cl)
	}
	if u, err := url.Parse(m.GetAuthorizationEndpoint()); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		c.fail("%s: invalid authorization endpoint URL %q", where, m.GetAuthorizationEndpoint())
	}
	// Gatehouse's: the callback and logout paths are exact, distinct and
	// not "/". A wider matcher would make the filter treat ordinary pages
	// as callbacks (401 without a code) or log users out on every visit.
	rp, sp := m.GetRedirectPathMatcher().GetPath().GetExact(), m.GetSignoutPath().GetPath().GetExact()
	if rp == "" || sp == "" || rp == "/" || sp == "/" || rp == sp {
		c.fail("%s: redirect_path_matcher and signout_path must be two different exact paths other than / (have %q, %q)", where, rp, sp)
	}
	if m.GetEndSessionEndpoint() != "" && !slices.Contains(m.GetAuthScopes(), "openid") {
		c.fail("%s: end session endpoint is only supported for OpenID Connect (openid in auth_scopes)", where)
	}
	idTokenAuth := false
	if fi := m.GetForwardIdToken(); fi != nil {
		h := strings.ToLower(fi.GetHeader())
		idTokenAuth = h == "authorization"
		if !modifiableHeader(h) {
			c.fail("%s: forward_id_token header %q cannot be set (pseudo-headers and Host are not allowed)", where, fi.GetHeader())
		}
		for _, pm := range m.GetPassThroughMatcher() {
			if strings.ToLower(pm.GetName()) == h {
				c.fail("%s: pass_through_matcher matches on the forwarded ID token header %q", where, fi.GetHeader())
			}
		}
	}
	owners := 0
	for _, b := range []bool{m.GetForwardBearerToken(), m.GetPreserveAuthorizationHeader(), idTokenAuth} {
		if b {
			owners++
		}
	}
	if owners > 1 {
		c.fail("%s: at most one of forward_bearer_token, preserve_authorization_header, or forward_id_token on Authorization may be set", where)
	}
	c.loginCookies(where, m.GetCredentials())
}

// loginSecret: an SDS reference over ADS to a non-empty generic secret of
// the group.
func (c *checker) loginSecret(where, field string, s *tlsv3.SdsSecretConfig) {
	if s == nil {
		return
	}
	if s.GetSdsConfig().GetAds() == nil {
		c.fail("%s: %s %q is not fetched over ADS (a secret without sds_config must be in Envoy's bootstrap)", where, field, s.GetName())
		return
	}
	sec := c.secretByName()[s.GetName()]
	if sec == nil {
		c.fail("%s: %s: secret %q does not exist", where, field, s.GetName())
		return
	}
	ds := sec.GetGenericSecret().GetSecret()
	if ds == nil || (len(ds.GetInlineBytes()) == 0 && ds.GetInlineString() == "") {
		c.fail("%s: %s: secret %q is not a non-empty generic secret", where, field, s.GetName())
	}
}

// secretByName indexes the group's secrets.
func (c *checker) secretByName() map[string]*tlsv3.Secret {
	if c.secretsByName == nil {
		c.secretsByName = make(map[string]*tlsv3.Secret, len(c.g.Secrets))
		for _, r := range c.g.Secrets {
			if s, ok := r.(*tlsv3.Secret); ok {
				c.secretsByName[s.GetName()] = s
			}
		}
	}
	return c.secretsByName
}

// loginCookies: a cookie name belongs to one login (one HMAC key) in the
// group, or a browser logged in to one would be sent round the other's
// login loop, its cookies failing the other key.
func (c *checker) loginCookies(where string, cr *oauth2v3.OAuth2Credentials) {
	key := cr.GetHmacSecret().GetName()
	n := cr.GetCookieNames()
	if c.cookieOwner == nil {
		c.cookieOwner = map[string]string{}
	}
	for _, name := range []string{n.GetBearerToken(), n.GetOauthHmac(), n.GetOauthExpires(), n.GetIdToken(), n.GetRefreshToken(), n.GetOauthNonce(), n.GetCodeVerifier()} {
		if name == "" {
			c.fail("%s: cookie names must all be set (the defaults are shared by every login)", where)
			return
		}
		if o, ok := c.cookieOwner[name]; ok && o != key {
			c.fail("%s: cookie %q is also used by the login signed with %q", where, name, o)
		}
		c.cookieOwner[name] = key
	}
}

// loginOrder: the OAuth2 filter runs before jwt_authn and ext_authz, so
// the token it forwards from its cookie is verified by them.
func (c *checker) loginOrder(where string, filters []*hcmv3.HttpFilter) {
	login := -1
	for i, f := range filters {
		if f.GetName() == wire.FilterOAuth2 {
			login = i
		}
	}
	if login < 0 {
		return
	}
	for i, f := range filters[:login] {
		switch f.GetName() {
		case wire.FilterJWT, wire.FilterExtAuthzClosed, wire.FilterExtAuthzOpen:
			c.fail("%s: http filter %q (%d) runs before %s (%d), which would forward a token it never verifies", where, f.GetName(), i, wire.FilterOAuth2, login)
		}
	}
}
