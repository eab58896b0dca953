package policy

import "net/url"

// validateOIDCDiscovery checks a JWT Authentication without jwks: its issuer
// is where gatehouse reads the OpenID Connect discovery document
// (<issuer>/.well-known/openid-configuration), so it must be a URL that
// can be fetched safely: https, or plain http only with the explicit
// opt-in, like a JWKS URI or an introspection endpoint.
func validateOIDCDiscovery(o *objErrs, p string, j *JWTAuth) {
	positiveDuration(o, p+".discovery.refreshInterval", j.Discovery.RefreshInterval)
	positiveDuration(o, p+".discovery.cacheDuration", j.Discovery.CacheDuration)
	if j.Issuer == "" {
		return // reported as required
	}
	ip := p + ".issuer"
	u, err := url.Parse(j.Issuer)
	switch {
	case err != nil:
		o.add(ip, "%q is not a valid URL; without jwks the issuer is where the OpenID Connect discovery document is read", j.Issuer)
	case u.Scheme == "http" && !j.Discovery.AllowInsecureHTTP:
		o.add(ip, "%q uses plain http: the discovery document (which names the signing keys) fetched without TLS can be replaced by anyone on the path; use https, or set discovery.allowInsecureHTTP: true to accept that", j.Issuer)
	case u.Scheme != "https" && u.Scheme != "http":
		o.add(ip, "%q must be an https URL when jwks is omitted (OpenID Connect discovery reads <issuer>/.well-known/openid-configuration); or set jwks", j.Issuer)
	case !validAddress(u.Hostname()): // an empty host (none, or a port alone) is no valid address either
		o.add(ip, "%q has no valid host", j.Issuer)
	case u.User != nil:
		o.add(ip, "%q must not carry credentials", j.Issuer)
	case u.RawQuery != "" || u.Fragment != "":
		// OpenID Connect Discovery 1.0, section 2: no query or fragment.
		o.add(ip, "%q must not have a query or #fragment (OpenID Connect Discovery 1.0, section 2)", j.Issuer)
	}
}

// ValidAddress reports whether a is an IP address or a DNS name, as the
// policy requires of every host it names; pkg/oidc holds a discovered
// jwks_uri's host to the same rule, since the translator makes a cluster
// of it.
func ValidAddress(a string) bool { return validAddress(a) }
