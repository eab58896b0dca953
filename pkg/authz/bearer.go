package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse-dev/gatehouse/pkg/introspect"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// MaxBearerTokenBytes caps a bearer token: a longer one is refused (401)
// without calling the introspection endpoint, so a client cannot make
// gatehouse post megabytes to the authorization server.
const MaxBearerTokenBytes = 4096

// introAuth is a compiled IntrospectAuth.
type introAuth struct {
	cfg IntrospectAuth
	in  *introspect.Introspector
}

// buildIntroAuth keeps old's Introspector (and so its cache and breaker
// state) when nothing about the endpoint changed.
func buildIntroAuth(a IntrospectAuth, old *introAuth) (*introAuth, error) {
	if old != nil && sameIntrospect(old.cfg, a) {
		return &introAuth{cfg: a, in: old.in}, nil
	}
	in, err := introspect.New(a.Introspect)
	if err != nil {
		return nil, err
	}
	return &introAuth{cfg: a, in: in}, nil
}

func sameIntrospect(a, b IntrospectAuth) bool {
	x, y := a.Introspect, b.Introspect
	return a.Issuer == b.Issuer && x.Endpoint == y.Endpoint && x.ClientID == y.ClientID &&
		x.ClientSecret == y.ClientSecret && x.AllowHTTP == y.AllowHTTP && x.CAPEM == y.CAPEM && x.Timeout == y.Timeout &&
		x.CacheTTL == y.CacheTTL && x.NegativeTTL == y.NegativeTTL && x.MaxEntries == y.MaxEntries &&
		x.BreakerFailures == y.BreakerFailures && x.BreakerCooldown == y.BreakerCooldown &&
		x.MaxResponseBytes == y.MaxResponseBytes && x.HTTPClient == y.HTTPClient
}

// tokenInfo is what a verified token (JWT or introspected) says, for
// require and input.gatehouse.
type tokenInfo struct {
	clientID string
	scopes   []string
	claims   map[string]any
}

func (t *tokenInfo) clientIDOrEmpty() string {
	if t == nil {
		return ""
	}
	return t.clientID
}

func scopeTerms(t *tokenInfo) []*ast.Term {
	if t == nil {
		return nil
	}
	out := make([]*ast.Term, len(t.scopes))
	for i, s := range t.scopes {
		out[i] = ast.StringTerm(s)
	}
	return out
}

// jwtToken reads scopes from a verified JWT payload: "scope" as a
// space-separated string (RFC 8693 4.2, RFC 9068 2.2.3), or "scp" as a list
// or a string (Azure AD, Okta).
func jwtToken(payload map[string]any) *tokenInfo {
	t := &tokenInfo{claims: payload}
	t.clientID, _ = payload["client_id"].(string)
	if s, ok := payload["scope"].(string); ok {
		t.scopes = strings.Fields(s)
	} else {
		switch v := payload["scp"].(type) {
		case string:
			t.scopes = strings.Fields(v)
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					t.scopes = append(t.scopes, s)
				}
			}
		}
	}
	return t
}

// bearer reads an RFC 6750 2.1 bearer token from the Authorization header.
// The scheme is case-insensitive (RFC 7235 2.1); the token must be a
// b64token. Tokens anywhere else (the access_token query parameter, a
// form body) are not looked at: RFC 6750 5.3 advises against them because
// URLs end up in logs. present is false when the request carries no
// Bearer credential at all; malformed says why a present one is refused
// (two Authorization headers, which Envoy joins with a comma, end up here).
//
// Envoy merges repeated headers into one comma-separated value in headers
// (go-control-plane envoy/service/auth/v3/attribute_context.pb.go,
// AttributeContext_HttpRequest.Headers: "merged according to the HTTP
// spec"), which is not a b64token; with encode_raw_headers they come as
// separate header_map entries, which are refused here, so that a second
// Authorization header is never silently ignored.
func bearer(h *authv3.AttributeContext_HttpRequest) (token string, present bool, malformed string) {
	v := headerValue(h, "authorization")
	if v == "" {
		return "", false, ""
	}
	n := 0
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), "authorization") {
			n++
		}
	}
	if n > 1 {
		return "", true, "more than one Authorization header"
	}
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "", false, ""
	}
	rest = strings.TrimLeft(rest, " ")
	switch {
	case rest == "":
		return "", true, "empty bearer token"
	case len(rest) > MaxBearerTokenBytes:
		return "", true, fmt.Sprintf("bearer token longer than %d bytes", MaxBearerTokenBytes)
	case !b64token(rest):
		return "", true, "malformed bearer token (not an RFC 6750 b64token; two Authorization headers?)"
	}
	return rest, true, ""
}

// b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64token(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// identifyIntrospected checks the request's bearer token with the first of
// names that is an oauth2Introspection Authentication. handled is false
// when none is, or the request carries no bearer token (the next kind of
// credential is tried). Every failure is closed: an unreachable, slow or
// confused endpoint is a 503, never a pass. The token itself is never put
// in a reason, a log or an error.
func (st *state) identifyIntrospected(ctx context.Context, h *authv3.AttributeContext_HttpRequest, names []string, realm string) (id identity, fail *authFailure, handled bool) {
	var a *introAuth
	var name string
	for _, n := range names {
		if x, ok := st.intro[n]; ok {
			a, name = x, n
			break
		}
	}
	if a == nil {
		return identity{}, nil, false
	}
	r := realm
	if a.cfg.Realm != "" {
		r = a.cfg.Realm
	}
	tok, present, malformed := bearer(h)
	if !present {
		return identity{}, nil, false
	}
	if malformed != "" {
		return identity{}, &authFailure{
			reason:    fmt.Sprintf("authentication %s: %s", name, malformed),
			challenge: fmt.Sprintf(`Bearer realm=%q, error="invalid_request"`, r),
		}, true
	}
	res, err := a.in.Introspect(ctx, tok)
	if err != nil {
		// introspect wraps every outage in ErrUnavailable; its messages
		// name the endpoint and the failure, never the token.
		reason := fmt.Sprintf("authentication %s: %v", name, err)
		if !errors.Is(err, introspect.ErrUnavailable) {
			reason = fmt.Sprintf("authentication %s: introspection failed", name)
		}
		return identity{}, &authFailure{
			status: http.StatusServiceUnavailable,
			reason: reason + "; denied: introspection fails closed",
			body:   "503 Service Unavailable: the access token cannot be checked now\n",
		}, true
	}
	invalid := func(why string) (identity, *authFailure, bool) {
		return identity{}, &authFailure{
			reason:    fmt.Sprintf("authentication %s: %s", name, why),
			challenge: fmt.Sprintf(`Bearer realm=%q, error="invalid_token"`, r),
		}, true
	}
	if !res.Active {
		return invalid("token is not active (unknown, expired or revoked)")
	}
	t := res.Token
	if iss, ok := t.Claims["iss"].(string); ok && iss != a.cfg.Issuer {
		return invalid(fmt.Sprintf("token issued by %q, want %q", iss, a.cfg.Issuer))
	}
	id = identity{consumer: wire.AnonymousConsumer, by: name, subject: t.Subject,
		token: &tokenInfo{clientID: t.ClientID, scopes: t.Scopes, claims: t.Claims}}
	if c, ok := st.subjects[JWTSubject{Issuer: a.cfg.Issuer, Subject: t.Subject}]; ok && t.Subject != "" {
		id.consumer = c
		id.groups = st.consumers[c].Groups
	}
	return id, nil, true
}

// requirement is a Route's require block, from its context extensions.
type requirement struct {
	scopes []string
	claims map[string]string
}

func parseRequirement(ext map[string]string) (*requirement, error) {
	s, c := ext[wire.CtxRequireScopes], ext[wire.CtxRequireClaims]
	if s == "" && c == "" {
		return nil, nil
	}
	rq := &requirement{scopes: strings.Fields(s)}
	if c != "" {
		if err := json.Unmarshal([]byte(c), &rq.claims); err != nil {
			return nil, fmt.Errorf("route requirement %s is not a JSON object of strings: %v", wire.CtxRequireClaims, err)
		}
	}
	return rq, nil
}

// unmet lists what the token lacks: missing scopes, then claims that do
// not hold, sorted. A caller without a token (an API key, anonymous) meets
// nothing.
func (rq *requirement) unmet(t *tokenInfo) (scopes, claims []string) {
	if t == nil {
		scopes = append(scopes, rq.scopes...)
		for k := range rq.claims {
			claims = append(claims, k)
		}
		sort.Strings(claims)
		return scopes, claims
	}
	for _, w := range rq.scopes {
		found := false
		for _, s := range t.scopes {
			if s == w { // exact, case-sensitive: RFC 6749 3.3
				found = true
				break
			}
		}
		if !found {
			scopes = append(scopes, w)
		}
	}
	for k, want := range rq.claims {
		if !claimHolds(t.claims[k], want) {
			claims = append(claims, k)
		}
	}
	sort.Strings(claims)
	return scopes, claims
}

// claimHolds: a string claim equal to want, or a list claim with want as
// one of its strings. Numbers and booleans never match: require compares
// strings only, and "1" is not 1.
func claimHolds(v any, want string) bool {
	switch x := v.(type) {
	case string:
		return x == want
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// insufficientScope is the RFC 6750 3.1 challenge for a token that lacks
// what the Route requires; scope lists every scope the Route needs.
func insufficientScope(realm string, rq *requirement) string {
	v := fmt.Sprintf(`Bearer realm=%q, error="insufficient_scope"`, realm)
	if len(rq.scopes) > 0 {
		v += fmt.Sprintf(`, scope=%q`, strings.Join(rq.scopes, " "))
	}
	return v
}
