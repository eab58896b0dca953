package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/url"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// authFailure is a 401: no valid credential on a route that needs one.
type authFailure struct {
	reason    string
	challenge string // WWW-Authenticate value
	status    int    // 0: 401; 503 when an introspection endpoint cannot answer
	body      string // "": the default 401 body
}

// identify implements "any one of" (POLICY-MODEL.md): a verified JWT of one
// of the route's JWT providers, else a valid key of one of its apiKey
// Authentications. A key that is present but unknown is a 401 even if the
// route would let anonymous callers in: a caller that sends a wrong key
// wants to know. A bearer token for an oauth2Introspection Authentication
// comes after JWTs (a Route never has both: jwt_authn would reject an
// opaque token) and before API keys; a present one decides, like a key.
// Without Authentications the caller is anonymous.
func (st *state) identify(ctx context.Context, attrs *authv3.AttributeContext, names []string, allowAnon bool, realm string) (identity, *authFailure) {
	anon := identity{consumer: wire.AnonymousConsumer}
	if len(names) == 0 {
		return anon, nil
	}
	// JWT first: jwt_authn already rejected invalid tokens, so a payload in
	// metadata is a verified one.
	payloads := attrs.GetMetadataContext().GetFilterMetadata()[wire.JWTMetadataNamespace].GetFields()
	for _, n := range names {
		j, ok := st.jwtAuth[n]
		if !ok {
			continue
		}
		payload := payloads[n].GetStructValue()
		if payload == nil {
			continue
		}
		f := payload.GetFields()
		sub := f["sub"].GetStringValue()
		iss := f["iss"].GetStringValue()
		if iss == "" {
			iss = j.Issuer
		}
		id := identity{consumer: wire.AnonymousConsumer, by: n, subject: sub, payload: payload}
		if c, ok := st.subjects[JWTSubject{Issuer: iss, Subject: sub}]; ok && sub != "" {
			id.consumer = c
			id.groups = st.consumers[c].Groups
		}
		return id, nil
	}
	if id, ok := st.identifyCertificate(attrs, names); ok {
		return id, nil
	}
	h := attrs.GetRequest().GetHttp()
	if id, fail, ok := st.identifyIntrospected(ctx, h, names, realm); ok {
		return id, fail
	}
	var query url.Values
	for _, n := range names {
		a, ok := st.apiKeyAuth[n]
		if !ok {
			continue
		}
		var key string
		if a.Header != "" {
			key = headerValue(h, a.Header)
		} else {
			if query == nil {
				query = rawQuery(h)
			}
			key = query.Get(a.Query)
		}
		if key == "" {
			continue
		}
		c, ok := st.lookupKey(key)
		if !ok {
			return identity{}, &authFailure{
				reason:    fmt.Sprintf("authentication %s: unknown API key", n),
				challenge: st.challenge(names, realm, `error="invalid_key"`),
			}
		}
		return identity{consumer: c, groups: st.consumers[c].Groups, by: n}, nil
	}
	if allowAnon {
		return anon, nil
	}
	return identity{}, &authFailure{
		reason:    "no credential for " + strings.Join(names, ", "),
		challenge: st.challenge(names, realm, ""),
	}
}

// lookupKey finds the key's consumer by digest. The map lookup only tells
// which bucket a digest falls in, which reveals nothing about the key; the
// final equality check is constant-time over the whole digest.
func (st *state) lookupKey(key string) (string, bool) {
	d := sha256.Sum256([]byte(key))
	c, ok := st.keys[d]
	if !ok {
		return "", false
	}
	for _, k := range st.consumers[c].APIKeys {
		if subtle.ConstantTimeCompare(k.SHA256[:], d[:]) == 1 {
			return c, true
		}
	}
	return "", false
}

// challenge is the WWW-Authenticate value listing every way the route accepts.
func (st *state) challenge(names []string, realm, extra string) string {
	var parts []string
	bearer := false
	for _, n := range names {
		tokenRealm, isToken := "", false
		if j, ok := st.jwtAuth[n]; ok {
			tokenRealm, isToken = j.Realm, true
		} else if a, ok := st.intro[n]; ok {
			tokenRealm, isToken = a.cfg.Realm, true
		}
		if isToken && !bearer {
			bearer = true
			r := realm
			if tokenRealm != "" {
				r = tokenRealm
			}
			parts = append(parts, fmt.Sprintf("Bearer realm=%q", r))
		}
		if a, ok := st.apiKeyAuth[n]; ok {
			where := fmt.Sprintf("header=%q", a.Header)
			if a.Query != "" {
				where = fmt.Sprintf("query=%q", a.Query)
			}
			p := fmt.Sprintf("ApiKey realm=%q, %s", realm, where)
			if extra != "" {
				p += ", " + extra
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// headerValue reads a request header (lower-case name). Envoy sends either
// the headers map or, with encode_raw_headers, the header_map.
func headerValue(h *authv3.AttributeContext_HttpRequest, name string) string {
	if v, ok := h.GetHeaders()[name]; ok {
		return v
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), name) {
			if v := hv.GetValue(); v != "" {
				return v
			}
			return string(hv.GetRawValue())
		}
	}
	return ""
}

func rawQuery(h *authv3.AttributeContext_HttpRequest) url.Values {
	p := h.GetPath()
	i := strings.IndexByte(p, '?')
	if i < 0 {
		return url.Values{}
	}
	q, _ := url.ParseQuery(p[i+1:]) // what parses is used; a malformed pair is skipped
	return q
}
