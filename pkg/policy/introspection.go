package policy

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// validateIntrospection checks an oauth2Introspection Authentication. The
// endpoint receives every token and gatehouse's client secret, so plain
// HTTP needs an explicit opt-in, and the secret is only ever read from a
// file (an inline secret would travel with the policy and its API output).
func validateIntrospection(files *fileReader, o *objErrs, file string, in *IntrospectionAuth) {
	p := "spec.oauth2Introspection"
	if in.Endpoint == "" {
		o.add(p+".endpoint", "required: the RFC 7662 introspection URL (such as https://idp.example.com/oauth2/introspect)")
	} else {
		checkIntrospectionURL(o, p+".endpoint", in)
	}
	if in.Issuer == "" {
		o.add(p+".issuer", "required: the authorization server's issuer (such as https://idp.example.com/); (issuer, sub) names the Consumer")
	}
	if in.ClientID == "" {
		o.add(p+".clientId", "required: gatehouse's client id at the introspection endpoint (RFC 7662 2.1: callers must authenticate)")
	}
	if o.has(p + ".clientSecret") {
		o.add(p+".clientSecret", "a client secret is never written in the policy; put it in a file and name it with clientSecretFile")
	} else if data, full, ok := files.readRelative(o, p+".clientSecretFile", file, in.ClientSecretFile); ok {
		secret := strings.TrimRight(string(data), "\r\n")
		switch {
		case secret == "":
			o.add(p+".clientSecretFile", "%s is empty", full)
		case strings.ContainsAny(secret, "\r\n"):
			o.add(p+".clientSecretFile", "%s has more than one line; it must hold only the client secret", full)
		default:
			in.ClientSecretPath, in.ClientSecretValue = full, NewSecret(secret)
		}
	}
	if in.CAFile != "" {
		if strings.HasPrefix(in.Endpoint, "http:") {
			o.add(p+".caFile", "only applies to an https endpoint")
		} else if data, full, ok := files.readRelative(o, p+".caFile", file, in.CAFile); ok {
			if !x509.NewCertPool().AppendCertsFromPEM(data) {
				o.add(p+".caFile", "%s holds no PEM certificate", full)
			} else {
				in.CAPEM = data
			}
		}
	}
	positiveDuration(o, p+".cacheTTL", in.CacheTTL)
	positiveDuration(o, p+".negativeCacheTTL", in.NegativeCacheTTL)
	positiveDuration(o, p+".timeout", in.Timeout)
}

func checkIntrospectionURL(o *objErrs, p string, in *IntrospectionAuth) {
	u, err := url.Parse(in.Endpoint)
	switch {
	case err != nil:
		o.add(p, "%q is not a valid URL", in.Endpoint)
	case u.Scheme == "http" && !in.AllowInsecureHTTP:
		o.add(p, "%q uses plain http: every token and the client secret would cross the network in clear; use https, or set allowInsecureHTTP: true to accept that", in.Endpoint)
	case u.Scheme != "https" && u.Scheme != "http":
		o.add(p, "%q must be an https URL", in.Endpoint)
	case !validAddress(u.Hostname()): // an empty host (none, or a port alone) is no valid address either
		o.add(p, "%q has no valid host", in.Endpoint)
	case u.User != nil:
		o.add(p, "%q must not carry credentials (use clientId and clientSecretFile)", in.Endpoint)
	case u.Fragment != "":
		o.add(p, "%q must not have a #fragment", in.Endpoint)
	}
}

// validateRequire checks a Route's require block (syntax only; whether the
// Route has a token Authentication is resolveRequire's job).
func validateRequire(o *objErrs, rq *RouteRequire) {
	p := "spec.require"
	if len(rq.Scopes) == 0 && len(rq.Claims) == 0 {
		o.add(p, "list scopes or claims, or omit require")
	}
	seen := map[string]bool{}
	for i, s := range rq.Scopes {
		sp := fmt.Sprintf("%s.scopes[%d]", p, i)
		switch {
		case !scopeToken(s):
			// RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
			o.add(sp, "%q is not a scope (RFC 6749 3.3: printable ASCII without spaces, quotes or backslashes)", s)
		case seen[s]:
			o.add(sp, "duplicate scope %q", s)
		}
		seen[s] = true
	}
	for _, k := range sortedKeys(rq.Claims) {
		cp := p + ".claims." + k
		switch {
		case k == "" || strings.TrimSpace(k) != k:
			o.add(p+".claims", "claim name %q is empty or has surrounding spaces", k)
		case rq.Claims[k] == "":
			o.add(cp, "must not be empty: the value the claim must equal (or, for a list claim, contain)")
		}
	}
}

func scopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// resolveRequire checks a Route's token rules against the Authentications
// it uses on each of its Gateways: require needs a token Authentication
// (jwt or oauth2Introspection) and no apiKey one (a key carries no scopes:
// it would either pass unchecked or always fail), and one Route cannot mix
// jwt with oauth2Introspection: Envoy's jwt_authn runs first and rejects a
// bearer token that is not a JWT (ENVOY-MAPPING.md, "any one of"): the
// allow_missing alternative lets a missing token through, never a failed
// one (Envoy: source/extensions/filters/http/jwt_authn/verifier.cc,
// AllowMissingVerifierImpl creates its authenticator with allow_failed
// false).
func resolveRequire(o *objErrs, r *Route, gateways map[string]*Gateway, authns map[string]*Authentication) {
	for _, gn := range r.Spec.Gateways {
		g := gateways[gn]
		if g == nil {
			continue
		}
		k := authnsOn(r, g, authns)
		jwt, intro, keys, certs := k.jwt, k.intro, k.apiKey, k.cert
		if len(certs) > 0 && !asksClientCertificates(g) {
			o.add("spec.authentication", "on %s the Route accepts client certificates (%s), but no listener of the Gateway asks for them: set tls.clientCertificates on its HTTPS listeners", g.Meta.Ref(), certs[0])
			return
		}
		if len(jwt) > 0 && len(intro) > 0 {
			o.add("spec.authentication", "on %s the Route accepts jwt (%s) and oauth2Introspection (%s) tokens; both come as Authorization: Bearer and jwt_authn rejects opaque tokens before they can be introspected: use one kind per Route",
				g.Meta.Ref(), strings.Join(jwt, ", "), strings.Join(intro, ", "))
			return
		}
		if r.Spec.Require == nil {
			continue
		}
		if len(jwt)+len(intro) == 0 {
			o.add("spec.require", "on %s the Route has no token authentication (jwt or oauth2Introspection) whose scopes and claims could be checked", g.Meta.Ref())
			return
		}
		if len(certs) > 0 {
			o.add("spec.require", "on %s the Route also accepts client certificates (%s), which carry no scopes or claims: a certificate would always fail require; drop the clientCertificate Authentication or require", g.Meta.Ref(), strings.Join(certs, ", "))
			return
		}
		if len(keys) > 0 {
			o.add("spec.require", "on %s the Route also accepts API keys (%s), which carry no scopes or claims: a key would always fail require; drop the apiKey Authentication or require", g.Meta.Ref(), strings.Join(slices.Compact(keys), ", "))
			return
		}
	}
}
