package policy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

func validateAuthentication(files *fileReader, o *objErrs, a *Authentication) {
	sp := &a.Spec
	if countSet(sp.JWT != nil, sp.APIKey != nil, sp.OAuth2Introspection != nil, sp.ClientCertificate != nil, sp.OAuth2Login != nil) != 1 {
		o.add("spec", "set exactly one of jwt, apiKey, oauth2Introspection, clientCertificate, oauth2Login")
	}
	if l := sp.OAuth2Login; l != nil {
		validateLogin(files, o, a.File, l)
	}
	if in := sp.OAuth2Introspection; in != nil {
		validateIntrospection(files, o, a.File, in)
	}
	if j := sp.JWT; j != nil {
		validateJWT(files, o, a.File, j)
	}
	if k := sp.APIKey; k != nil {
		p := "spec.apiKey"
		switch {
		case countSet(k.Header != "", k.Query != "") != 1:
			o.add(p, "set exactly one of header, query: where callers send the key")
		case k.Header != "":
			checkAuthHeader(o, p+".header", k.Header)
		case !queryName(k.Query):
			o.add(p+".query", "%q is not a valid query parameter name (no spaces or &=#?%%+)", k.Query)
		}
	}
}

func validateJWT(files *fileReader, o *objErrs, file string, j *JWTAuth) {
	p := "spec.jwt"
	if j.Issuer == "" {
		o.add(p+".issuer", "required: the iss claim of accepted tokens (such as https://idp.example.com/)")
	}
	if len(j.Audiences) == 0 {
		o.add(p+".audiences", "required: list at least one audience (the aud claim a token must carry)")
	}
	seen := map[string]bool{}
	for i, aud := range j.Audiences {
		ap := fmt.Sprintf("%s.audiences[%d]", p, i)
		switch {
		case aud == "":
			o.add(ap, "must not be empty")
		case seen[aud]:
			o.add(ap, "duplicate audience %q", aud)
		}
		seen[aud] = true
	}
	if o.has(p + ".jwks") {
		validateJWKS(files, o, p+".jwks", file, &j.JWKS)
		if o.has(p + ".discovery") {
			o.add(p+".discovery", "only applies without jwks: discovery finds the keys from the issuer; remove one of them")
		}
	} else {
		j.UseDiscovery = true
		validateOIDCDiscovery(o, p, j)
	}
	headers := map[string]bool{}
	for i, c := range j.ClaimsToHeaders {
		cp := fmt.Sprintf("%s.claimsToHeaders[%d]", p, i)
		if c.Claim == "" {
			o.add(cp+".claim", "required: the claim to copy (such as sub)")
		}
		if c.Header == "" {
			o.add(cp+".header", "required: the request header to set")
			continue
		}
		checkAuthHeader(o, cp+".header", c.Header)
		// Every Gateway strips every claim header from client requests
		// (the translator's header_mutation): a credential header or one
		// of Envoy's own would be removed everywhere.
		if lh := strings.ToLower(c.Header); lh == "authorization" || strings.HasPrefix(lh, "x-envoy-") {
			o.add(cp+".header", "%q cannot carry a claim: every Gateway removes claim headers sent by clients, and this one carries credentials or Envoy's own data", c.Header)
		}
		if h := strings.ToLower(c.Header); headers[h] {
			o.add(cp+".header", "header %q is already set from another claim", c.Header)
		} else {
			headers[h] = true
		}
	}
}

func validateJWKS(files *fileReader, o *objErrs, p, file string, k *JWKS) {
	if !o.has(p) {
		o.add(p, "required: where the signing keys are (uri, file or inline)")
		return
	}
	if countSet(k.URI != "", k.File != "", k.Inline != "") != 1 {
		o.add(p, "set exactly one of uri, file, inline")
		return
	}
	if k.URI == "" {
		for _, f := range []string{"cacheDuration", "allowInsecureHTTP"} {
			if o.has(p + "." + f) {
				o.add(p+"."+f, "only applies to a remote JWKS (uri)")
			}
		}
	}
	switch {
	case k.URI != "":
		checkJWKSURI(o, p+".uri", k)
		positiveDuration(o, p+".cacheDuration", k.CacheDuration)
	case k.File != "":
		data, full, ok := files.readRelative(o, p+".file", file, k.File)
		if !ok {
			return
		}
		if err := checkJWKS(data); err != nil {
			o.add(p+".file", "%s is not a usable JWKS: %v", full, err)
			return
		}
		k.JWKSJSON = data
	default:
		if err := checkJWKS([]byte(k.Inline)); err != nil {
			o.add(p+".inline", "not a usable JWKS: %v", err)
			return
		}
		k.JWKSJSON = []byte(k.Inline)
	}
}

func checkJWKSURI(o *objErrs, p string, k *JWKS) {
	u, err := url.Parse(k.URI)
	if err != nil {
		o.add(p, "%q is not a valid URL", k.URI)
		return
	}
	switch {
	case u.Scheme == "http" && !k.AllowInsecureHTTP:
		o.add(p, "%q uses plain http: keys fetched without TLS can be replaced by anyone on the path; use https, or set allowInsecureHTTP: true to accept that", k.URI)
	case u.Scheme != "https" && u.Scheme != "http":
		o.add(p, "%q must be an https URL", k.URI)
	case u.Host == "" || u.Hostname() == "":
		o.add(p, "%q has no host", k.URI)
	case !validAddress(u.Hostname()):
		o.add(p, "%q: %q is not a valid host", k.URI, u.Hostname())
	case u.User != nil:
		o.add(p, "%q must not carry credentials", k.URI)
	case u.Fragment != "":
		o.add(p, "%q must not have a #fragment", k.URI)
	}
}

// checkJWKS checks that data is a JWKS (RFC 7517 section 5): a JSON object
// whose "keys" is a non-empty array of objects that each name a key type.
// Envoy checks the keys themselves; this catches the wrong file.
func checkJWKS(data []byte) error {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	raw, ok := doc["keys"]
	if !ok {
		return fmt.Errorf(`no "keys" member`)
	}
	var keys []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return fmt.Errorf(`"keys" must be an array of key objects`)
	}
	if len(keys) == 0 {
		return fmt.Errorf(`"keys" is empty`)
	}
	for i, key := range keys {
		var kty string
		if err := json.Unmarshal(key["kty"], &kty); err != nil || kty == "" {
			return fmt.Errorf(`keys[%d] has no "kty" (key type)`, i)
		}
	}
	return nil
}

// checkAuthHeader validates a request header that authentication reads or
// sets: not a pseudo-header, not host, and not the consumer header, which
// only gatehouse sets.
func checkAuthHeader(o *objErrs, p, h string) {
	switch {
	case strings.EqualFold(h, wire.ConsumerHeader):
		o.add(p, "%s is set by gatehouse itself and cannot be used here", wire.ConsumerHeader)
	case strings.EqualFold(h, "host"):
		o.add(p, "the host header cannot be used here")
	default:
		checkHeaderName(o, p, h)
	}
}

var queryNameRE = regexp.MustCompile(`^[A-Za-z0-9._~!$'()*,;:@/-]+$`)

func queryName(q string) bool { return queryNameRE.MatchString(q) }

// authnsByKind is a Route's effective Authentications on one Gateway,
// by kind, in the Route's order (Authentications that do not exist are
// left out: the reference check reports them).
type authnsByKind struct {
	jwt, intro, apiKey, cert, login []string
}

func authnsOn(r *Route, g *Gateway, authns map[string]*Authentication) authnsByKind {
	var k authnsByKind
	for _, n := range r.EffectiveAuthentication(g) {
		a := authns[n]
		switch {
		case a == nil:
		case a.Spec.JWT != nil:
			k.jwt = append(k.jwt, n)
		case a.Spec.OAuth2Introspection != nil:
			k.intro = append(k.intro, n)
		case a.Spec.OAuth2Login != nil:
			// Carries no token of its own: the one it forwards is
			// verified by the Route's jwt or introspection
			// Authentication (resolveLogin).
			k.login = append(k.login, n)
		case a.Spec.ClientCertificate != nil:
			k.cert = append(k.cert, n)
		default:
			k.apiKey = append(k.apiKey, n)
		}
	}
	return k
}
