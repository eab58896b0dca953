package policy

import (
	"fmt"
	"net/url"
	"strings"
)

// minHMACSecretBytes is the shortest cookie-signing key accepted: the
// filter signs with HMAC-SHA256, whose key should be at least as long as
// its output (RFC 2104, section 3).
const minHMACSecretBytes = 32

// validateLogin checks an oauth2Login Authentication. The secrets are only
// ever read from files (an inline secret would travel with the policy and
// its API output), and every browser-facing setting is one a Secure,
// HttpOnly cookie can work with.
func validateLogin(files *fileReader, o *objErrs, file string, l *OAuth2LoginAuth) {
	p := "spec.oauth2Login"
	// With an issuer, the endpoints come from its discovery document
	// (pkg/oidc); ones written here take precedence over discovered ones.
	discover := l.Issuer != ""
	if discover {
		loginURL(o, p+".issuer", l.Issuer, l.AllowInsecureHTTP, true)
		if u, err := url.Parse(l.Issuer); err == nil && (u.RawQuery != "" || u.Fragment != "") {
			o.add(p+".issuer", "%q must not have a query or fragment (OpenID Connect Discovery 1.0, section 2)", l.Issuer)
		}
	}
	loginURL(o, p+".authorizationEndpoint", l.AuthorizationEndpoint, l.AllowInsecureHTTP, !discover)
	loginURL(o, p+".tokenEndpoint", l.TokenEndpoint, l.AllowInsecureHTTP, !discover)
	if l.EndSessionEndpoint != "" {
		loginURL(o, p+".endSessionEndpoint", l.EndSessionEndpoint, l.AllowInsecureHTTP, false)
		if !containsString(l.LoginScopes(), "openid") {
			// Envoy refuses the filter otherwise (source/extensions/filters/
			// http/oauth2/filter.cc, FilterConfig: "end session endpoint is
			// only supported for OpenID Connect").
			o.add(p+".endSessionEndpoint", "needs the openid scope (RP-initiated logout is OpenID Connect): add openid to scopes")
		}
	}
	if l.ClientID == "" {
		o.add(p+".clientId", "required: the client id registered at the identity provider")
	}
	if o.has(p + ".clientSecret") {
		o.add(p+".clientSecret", "a client secret is never written in the policy; put it in a file and name it with clientSecretFile")
	} else if v, full, ok := readSecretFile(files, o, p+".clientSecretFile", file, l.ClientSecretFile); ok {
		l.ClientSecretPath, l.ClientSecretValue = full, NewSecret(v)
	}
	if o.has(p + ".hmacSecret") {
		o.add(p+".hmacSecret", "the cookie-signing key is never written in the policy; put it in a file and name it with hmacSecretFile")
	} else if v, full, ok := readSecretFile(files, o, p+".hmacSecretFile", file, l.HMACSecretFile); ok {
		if len(v) < minHMACSecretBytes {
			o.add(p+".hmacSecretFile", "%s holds %d bytes; the cookie-signing key needs at least %d (for example: openssl rand -base64 48)", full, len(v), minHMACSecretBytes)
		} else {
			l.HMACSecretPath, l.HMACSecretValue = full, NewSecret(v)
		}
	}
	loginPath(o, p+".redirectPath", l.RedirectPath)
	loginPath(o, p+".logoutPath", l.LogoutPath)
	if l.Redirect() == l.Logout() {
		o.add(p+".logoutPath", "%q is also the redirect path; use two different paths", l.Logout())
	}
	if l.RedirectURI != "" {
		u, err := url.Parse(l.RedirectURI)
		switch {
		case err != nil || u.Host == "":
			o.add(p+".redirectURI", "%q is not an absolute URL", l.RedirectURI)
		case u.Scheme == "http":
			o.add(p+".redirectURI", "%q uses plain http, but the session cookies are always Secure: a browser never sends them back over http, so the login would loop; use https", l.RedirectURI)
		case u.Scheme != "https":
			o.add(p+".redirectURI", "%q must be an https URL", l.RedirectURI)
		case u.Path != l.Redirect():
			o.add(p+".redirectURI", "path %q differs from redirectPath %q: the callback would never be recognized", u.Path, l.Redirect())
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			o.add(p+".redirectURI", "%q must not carry a query, fragment or credentials", l.RedirectURI)
		}
	}
	seen := map[string]bool{}
	for i, s := range l.Scopes {
		sp := fmt.Sprintf("%s.scopes[%d]", p, i)
		switch {
		case !scopeToken(s):
			o.add(sp, "%q is not a scope (RFC 6749 3.3: printable ASCII without spaces, quotes or backslashes)", s)
		case seen[s]:
			o.add(sp, "duplicate scope %q", s)
		}
		seen[s] = true
	}
	switch l.SameSite {
	case "", "Lax", "Strict":
	case "None":
		o.add(p+".sameSite", "None would send the session cookies with cross-site requests (cross-site request forgery); use Lax or Strict")
	default:
		o.add(p+".sameSite", "%q: use Lax or Strict", l.SameSite)
	}
}

// loginURL checks one of the identity provider's endpoints.
func loginURL(o *objErrs, p, s string, allowHTTP, required bool) {
	if s == "" {
		if required {
			o.add(p, "required: the identity provider's URL (its discovery document lists it), or name the issuer and let gatehouse discover it")
		}
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		o.add(p, "%q is not a valid URL", s)
	case u.Scheme == "http" && !allowHTTP:
		o.add(p, "%q uses plain http: codes, tokens and the client secret would cross the network in clear; use https, or set allowInsecureHTTP: true to accept that", s)
	case u.Scheme != "https" && u.Scheme != "http":
		o.add(p, "%q must be an https URL", s)
	case !validAddress(u.Hostname()): // an empty host (none, or a port alone) is no valid address either
		o.add(p, "%q has no valid host", s)
	case u.User != nil:
		o.add(p, "%q must not carry credentials (use clientId and clientSecretFile)", s)
	case u.Fragment != "":
		o.add(p, "%q must not have a #fragment", s)
	}
}

// loginPath checks a path the filter answers itself (exact match).
func loginPath(o *objErrs, p, s string) {
	if s == "" {
		return
	}
	if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, "?#%* \t") || s == "/" {
		o.add(p, "%q must be a plain absolute path such as /oauth2/callback (no query, fragment, escapes or wildcards, not /)", s)
	}
}

// readSecretFile reads a one-line secret file.
func readSecretFile(files *fileReader, o *objErrs, p, policyFile, name string) (string, string, bool) {
	data, full, ok := files.readRelative(o, p, policyFile, name)
	if !ok {
		return "", "", false
	}
	v := strings.TrimRight(string(data), "\r\n")
	switch {
	case v == "":
		o.add(p, "%s is empty", full)
	case strings.ContainsAny(v, "\r\n"):
		o.add(p, "%s has more than one line; it must hold only the secret", full)
	default:
		return v, full, true
	}
	return "", "", false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// resolveLogin checks a Route's oauth2Login Authentications against each
// of its Gateways: the login filter checks only its own cookie, so the
// token it forwards (and any bearer token it lets through) must be
// verified by a jwt or oauth2Introspection Authentication of the same
// Route; and the cookies are Secure, so no plain-HTTP listener may serve
// the Route (the browser would never send them back: a login loop).
func resolveLogin(o *objErrs, r *Route, gateways map[string]*Gateway, authns map[string]*Authentication) {
	for _, gn := range r.Spec.Gateways {
		g := gateways[gn]
		if g == nil {
			continue
		}
		k := authnsOn(r, g, authns)
		login, token := k.login, len(k.jwt)+len(k.intro) > 0
		if len(login) == 0 {
			continue
		}
		if len(login) > 1 {
			o.add("spec.authentication", "on %s the Route uses two browser logins (%s); a browser can be sent to one identity provider only", g.Meta.Ref(), strings.Join(login, ", "))
			return
		}
		if !token {
			o.add("spec.authentication", "on %s the Route uses browser login (%s) without a jwt or oauth2Introspection Authentication: the login filter checks only its cookie, and a request with Authorization: Bearer skips it, so the token must be verified by one; add one", g.Meta.Ref(), login[0])
			return
		}
		for _, l := range g.Spec.Listeners {
			if l.Protocol != ProtocolHTTPS && !l.HTTPSRedirect {
				o.add("spec.authentication", "on %s the Route uses browser login (%s), but listener %q serves it over plain http, where browsers drop the Secure session cookies (a login loop); serve it over HTTPS or set httpsRedirect on that listener", g.Meta.Ref(), login[0], l.Name)
				return
			}
		}
	}
}

// routeLogin is the oauth2Login a Route uses on g ("" for none).
func routeLogin(r *Route, g *Gateway, authns map[string]*Authentication) string {
	for _, n := range r.EffectiveAuthentication(g) {
		if a := authns[n]; a != nil && a.Spec.OAuth2Login != nil {
			return n
		}
	}
	return ""
}

// loginPathClashes: two logins on one Gateway answer on different paths.
// The filter answers its callback and logout paths on whichever Route the
// request matches: with a path shared by two logins, one login's callback
// would be taken by the other (its state and PKCE cookies fail: a login
// loop), or its logout would clear the other's cookies only. Each Route of
// this load is checked against the ones before it (file order); the later
// one is refused.
func (l *loader) loginPathClashes(objs []*object) {
	type use struct {
		route, login string
		paths        [2]string
	}
	seen := map[string][]use{} // by Gateway
	for _, ob := range objs {
		r, ok := ob.val.(*Route)
		if !ok || ob.errs.failed() {
			continue
		}
	gateways:
		for _, gn := range r.Spec.Gateways {
			g := l.snap.Gateways[gn]
			if g == nil {
				continue
			}
			mine := routeLogin(r, g, l.snap.Authentications)
			if mine == "" {
				continue
			}
			ml := l.snap.Authentications[mine].Spec.OAuth2Login
			u := use{r.Meta.Ref(), mine, [2]string{ml.Redirect(), ml.Logout()}}
			for _, other := range seen[gn] {
				if other.login == mine {
					continue
				}
				for _, p := range u.paths {
					if p == other.paths[0] || p == other.paths[1] {
						ob.errs.add("spec.authentication", "on %s the browser logins %s (this Route) and %s (%s) both answer on %s: give them different redirectPath and logoutPath", g.Meta.Ref(), mine, other.login, other.route, p)
						continue gateways
					}
				}
			}
			seen[gn] = append(seen[gn], u)
		}
	}
}
